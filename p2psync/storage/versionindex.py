"""The durable file of one doc's timeline (``<log>.versions``, docs/history.md).

The file is an 8-byte magic, a format version, the body's length and CRC-32, and a
msgpack body: the versions (one array each; a ``rename`` has a tenth field, its old
path, a chunked file's version an eleventh, the key of its text, and a version whose
state is chained to the one before (``storage.historystates``) a twelfth, 1, which
the others leave out) and the pending compaction (or nil). It
is replaced atomically (temp file, fsync, rename, directory fsync), so a crash leaves
the old timeline or the new one.
``load_timeline`` raises StorageError for a file that does not validate; nothing is
ever dropped silently. A compaction in progress is recorded in it too
(``PendingFold``), so that a crash between the log's rewrite and the timeline's is
finished at the next load.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from p2psync.errors import StorageError
from p2psync.storage.fileops import REAL_FILE_OPS, FileOps, write_file_atomically
from p2psync.storage.retention import RetentionPolicy, kept_indices, within_bytes
from p2psync.storage.timeline import Version

SUFFIX = ".versions"
MAGIC = b"P2PSVER\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sHII")
"""magic, format version, body length, CRC-32 of the body."""


def versions_path(log_path: Path) -> Path:
    """The timeline file beside the log at ``log_path``."""
    return log_path.with_name(log_path.name + SUFFIX)


@dataclass(frozen=True, slots=True)
class PendingFold:
    """A compaction whose kept versions got their states, written before the log is
    replaced: once the log starts with the snapshot whose CRC-32 is ``snapshot_crc``,
    the versions past the first ``prefix_updates`` updates move back (docs/history.md)."""

    prefix_updates: int
    snapshot_crc: int


def encode_timeline(timeline: list[Version], pending: PendingFold | None = None) -> bytes:
    """The file bytes of ``timeline`` (and of a compaction not known to be done)."""
    rows = [_row(v) for v in timeline]
    fold = [pending.prefix_updates, pending.snapshot_crc] if pending is not None else None
    body: bytes = msgpack.packb([rows, fold], use_bin_type=True)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, len(body), zlib.crc32(body)) + body


def _row(v: Version) -> list[Any]:
    """One version's row: nine fields, and the optional ones only as the version
    needs them."""
    row = [v.time, v.device, v.kind, v.log_end, v.size, v.added, v.removed, v.state, v.number]
    if v.chained:
        return [*row, v.old_path, v.text_key, 1]
    return row + ([v.old_path, v.text_key] if v.text_key else [v.old_path] if v.old_path else [])


def decode_timeline(data: bytes, path: Path) -> list[Version]:
    """Parse a timeline file; raise StorageError naming ``path`` if it does not validate."""
    return decode_index(data, path)[0]


def decode_index(data: bytes, path: Path) -> tuple[list[Version], PendingFold | None]:
    """``decode_timeline``, and the compaction the file says may be pending."""
    if len(data) < _HEADER.size:
        raise StorageError(path, "the history file is shorter than its header")
    magic, version, length, crc = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != MAGIC or version != FORMAT_VERSION:
        raise StorageError(path, "not a history file of a version this p2psync reads")
    if len(body) != length or zlib.crc32(body) != crc:
        raise StorageError(path, "the history file is cut short or fails its checksum")
    try:
        rows, fold = msgpack.unpackb(body, raw=False, max_bin_len=length)
        pending = PendingFold(int(fold[0]), int(fold[1])) if fold is not None else None
        timeline = [_version(row) for row in rows]
        return timeline, pending
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise StorageError(path, f"the history file does not decode: {exc}") from None


def _version(row: list[Any]) -> Version:
    """One row of the file: nine fields, a tenth (the old path) for a rename, an
    eleventh (the text's key) for a chunked file's version, a twelfth (1) for a
    version whose state is chained to the one before."""
    if len(row) not in (9, 10, 11, 12):
        raise ValueError(f"a version of {len(row)} fields")
    t, d, k, e, s, a, r, st, n = row[:9]
    old, key = (str(field) for field in [*row[9:11], "", ""][:2])
    chained = len(row) == 12 and row[11] == 1
    return Version(float(t), str(d), str(k), int(e), int(s), int(a), int(r), bytes(st), int(n),
                   old_path=old, text_key=key, chained=chained)  # fmt: skip


def load_timeline(path: Path) -> list[Version]:
    """The timeline stored at ``path``, empty if there is none yet."""
    return load_index(path)[0]


def load_index(path: Path) -> tuple[list[Version], PendingFold | None]:
    """``load_timeline``, and the compaction the file says may be pending."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], None
    except OSError as exc:
        raise StorageError(path, f"cannot read the history file: {exc.strerror}") from exc
    return decode_index(data, path)


def save_timeline(
    path: Path,
    timeline: list[Version],
    pending: PendingFold | None = None,
    *,
    ops: FileOps = REAL_FILE_OPS,
) -> None:
    """Replace the timeline at ``path`` durably (OSError propagates; the old file stays)."""
    write_file_atomically(path, encode_timeline(timeline, pending), ops=ops)


def prune(
    timeline: list[Version], now: float, policy: RetentionPolicy, *, binary: bool = False
) -> list[Version]:
    """The versions of ``timeline`` that ``policy`` keeps at ``now``, oldest first.

    The policy picks among the versions that hold a text, so a deleted file's last
    text is its newest such version and always kept (a deletion never pushes it out
    of its hour or day). A deletion is kept while it is the newest version or the
    version before it is kept. The timeline of a ``binary`` file is also held to
    ``policy.max_bytes``: its oldest versions go first, never its newest."""
    texts = [i for i, v in enumerate(timeline) if v.kind != "delete"]
    kept = kept_indices([timeline[i].time for i in texts], now, policy)
    if binary:
        kept = within_bytes([timeline[i].size for i in texts], kept, policy.max_bytes)
    keep = {texts[i] for i in kept}
    for i, version in enumerate(timeline):
        if version.kind == "delete" and (i == len(timeline) - 1 or i - 1 in keep):
            keep.add(i)
    return [v for i, v in enumerate(timeline) if i in keep]
