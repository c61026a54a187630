"""The snapshot subprocess: ``python -m p2psync.storage.snapshot_worker``.

``--serve`` answers ``PREFIX_END PATH`` lines on stdin, one at a time, until end of
input (so it dies with the daemon); ``LOG PREFIX_END`` prints one snapshot to stdout.
A reply is a status byte (0 ok, 1 error), a u64 big-endian length and the snapshot or
the error message.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from p2psync.errors import StorageError
from p2psync.storage.compaction import WORKER_REPLY_HEADER, build_snapshot


def serve() -> int:
    """Worker loop: for each ``PREFIX_END PATH`` line on stdin, write a status byte
    (0 ok, 1 error), a u64 big-endian length and the snapshot (or the error message)
    to stdout. Ends at end of input, so the worker dies with its parent."""
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        prefix_text, _, path_text = line.rstrip(b"\n").partition(b" ")
        try:
            status, body = 0, build_snapshot(Path(os.fsdecode(path_text)), int(prefix_text))
        except (StorageError, ValueError, OSError) as exc:
            status, body = 1, str(exc).encode()
        out.write(WORKER_REPLY_HEADER.pack(status, len(body)) + body)
        out.flush()
    return 0


def main(argv: list[str]) -> int:
    """Subprocess entry: ``--serve`` runs the worker loop; ``LOG PREFIX_END`` prints
    one snapshot to stdout."""
    if argv == ["--serve"]:
        return serve()
    path, prefix_end = Path(argv[0]), int(argv[1])
    try:
        snapshot = build_snapshot(path, prefix_end)
    except StorageError as exc:
        print(exc, file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    out.write(snapshot)
    out.flush()
    os.close(out.fileno())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
