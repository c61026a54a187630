"""A separate process that works on a log until it is killed (used by crash tests).

python log_worker.py append PATH SEED     append numbered payloads, print each index
                                          once its append has returned (is durable)
python log_worker.py compact PATH STEP    compact the log, SIGKILL itself after STEP

``append_telling`` is the first as the target of a ``multiprocessing`` process forked
from a server that imported this module once (``test_crash.py`` starts 200 of them:
each new Python spent about 0.1 s of CPU importing the log before its first append).
"""

from __future__ import annotations

import os
import random
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from p2psync.storage import DocLog
from p2psync.storage.compaction import build_snapshot


def payload(seed: int, index: int) -> bytes:
    """The index-th payload a worker with ``seed`` appends (sizes vary, content known)."""
    size = random.Random(seed * 1_000_003 + index).randrange(1, 3000)
    return f"{seed}:{index}:".encode() + b"x" * size


def _print(line: str) -> None:
    print(line, flush=True)


def append_forever(path: Path, seed: int, tell: Callable[[str], None] = _print) -> None:
    """Append batches of ``payload``s for ever; ``tell`` "ready" once the log is open,
    then the number of payloads appended after each append has returned."""
    rng = random.Random(seed)
    doclog = DocLog.open(path).log
    tell("ready")
    index = 0
    while True:
        batch = [payload(seed, index + i) for i in range(rng.randrange(1, 6))]
        doclog.append(batch)
        index += len(batch)
        tell(str(index))


def append_telling(path: Path, seed: int, acks: Connection) -> None:
    """``append_forever``, telling each line as one message on ``acks`` (a pipe's
    writing end: a message of a few bytes is one write, whole or not at all)."""
    append_forever(path, seed, lambda line: acks.send_bytes(line.encode()))


def append_count(path: Path, seed: int, count: int) -> None:
    doclog = DocLog.open(path).log
    for index in range(count):
        doclog.append([payload(seed, index)])


def compact_and_die(path: Path, step: str) -> None:
    def hook(reached: str) -> None:
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)

    doclog = DocLog.open(path).log
    snapshot = build_snapshot(path, doclog.end)
    doclog.commit_compaction(doclog.end, snapshot, crash_hook=hook)
    print("compacted", flush=True)


if __name__ == "__main__":
    mode, target = sys.argv[1], Path(sys.argv[2])
    if mode == "append":
        append_forever(target, int(sys.argv[3]))
    elif mode == "append-count":
        append_count(target, int(sys.argv[3]), int(sys.argv[4]))
    else:
        compact_and_die(target, sys.argv[3])
