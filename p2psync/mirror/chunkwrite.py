"""Writing a chunked file from its layout without holding it whole.

``write_plan`` writes a file from parts (byte ranges of the file as it is, or new
bytes: ``ChunkedFiles.plan``), atomically, as ``fileio.write_file``; ``read_blocks``
reads a byte range of an open file a block at a time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from p2psync.mirror.chunklayout import Part
from p2psync.mirror.fileio import FileChangedError, FileStat, write_file
from p2psync.mirror.paths import is_inside

if TYPE_CHECKING:
    from hashlib import _Hash as Hasher

COPY_BLOCK_BYTES = 256 * 1024
"""Unchanged bytes are copied from the old file to the new one this much at a time."""


def write_plan(
    folder: Path,
    rel: str,
    parts: list[Part],
    *,
    executable: bool,
    expect: FileStat,
    boundary: Callable[[int, Hasher], None] | None = None,
    prepared: Callable[[FileStat, bytes], None] | None = None,
) -> tuple[FileStat, bytes]:
    """Write the file ``rel`` from ``parts`` (see ``ChunkedFiles.plan``): byte ranges
    are read from the file as it is, block by block, so it is never in memory whole.
    Atomic, as ``fileio.write_file``; returns the new stat and the bytes' SHA-256.
    ``boundary(offset, hash state)`` is told the digest's state at each part's start
    and at the end (``patch.DigestMarks``); ``prepared(stat, digest)`` is called as
    ``write_file`` calls its own. Raises what ``write_file`` raises, and
    FileChangedError if the file is shorter than a range (it changed meanwhile)."""
    digest = hashlib.sha256()
    fd = os.open(is_inside(folder, rel), os.O_RDONLY | os.O_NOFOLLOW)

    def blocks() -> Iterator[bytes]:
        at = 0
        for piece, source in parts:
            if boundary is not None:
                boundary(at, digest)
            at += piece.size
            if isinstance(source, bytes):
                digest.update(source)
                yield source
                continue
            for block in read_blocks(fd, *source, rel=rel):
                digest.update(block)
                yield block
        if boundary is not None:
            boundary(at, digest)

    try:
        stat = write_file(
            folder,
            rel,
            blocks(),
            executable=executable,
            expect=expect,
            prepared=None if prepared is None else lambda st: prepared(st, digest.digest()),
        )
    finally:
        os.close(fd)
    return stat, digest.digest()


def read_blocks(fd: int, start: int, stop: int, *, rel: str) -> Iterator[bytes]:
    """The bytes ``start:stop`` of the open file ``rel``, ``COPY_BLOCK_BYTES`` at a
    time, so a large file is never in memory whole; raises FileChangedError if it
    ends before ``stop`` (it changed since it was last seen)."""
    while start < stop:
        block = os.pread(fd, min(COPY_BLOCK_BYTES, stop - start), start)
        if not block:
            raise FileChangedError(f"{rel} changed on disk since it was read")
        yield block
        start += len(block)
