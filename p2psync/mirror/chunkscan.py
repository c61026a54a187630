"""Reading a save of a chunked file without holding the file in memory.

A chunked file can be hundreds of megabytes, and a save usually changes a few lines.
``scan_save`` compares the file with the layout it was last synced with
(``chunkfile.Piece``: each chunk's byte length and SHA-256, in order), block by block:
the run of leading chunks still in place, the run of trailing ones, and only the bytes
between them are read into memory. It also digests the whole file, for the sync
state: from the SHA-256 state the mirror holds at the end of the unchanged leading
chunks (``patch.DigestMarks``, taken when it last wrote or read the file), so those
bytes are hashed once, against their chunks' digests; without one, once more. The
file is opened without following links; its stat before and after the reading must
agree, or the file was being written and the scan is refused.

The caller turns the result into edits of the chunks between
(``ChunkedFiles.save_scanned``), so a save near the end of a 50 MB file costs reading
the file once and holding one chunk.
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_module
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from p2psync.mirror.chunkfile import LARGE_TEXT_MAX_BYTES, Piece
from p2psync.mirror.chunkwrite import read_blocks
from p2psync.mirror.fileio import FileChangedError, FileStat, NotAFileError
from p2psync.mirror.paths import is_inside

if TYPE_CHECKING:
    from hashlib import _Hash as Hasher


@dataclass(frozen=True, slots=True)
class Scan:
    """A save as read against a layout."""

    lead: int
    """How many leading pieces are unchanged, in place."""
    trail: int
    """How many trailing pieces are unchanged, in place (never overlapping ``lead``)."""
    middle: bytes
    """The bytes between them: what the save changed."""
    digest: bytes
    """SHA-256 of the whole file."""
    stat: FileStat
    """The file's stat while it was read."""
    marks: dict[int, Hasher]
    """SHA-256 states of the file's first bytes, by offset: those of the old file up
    to the end of the unchanged leading chunks, and the whole file's."""


def scan_save(folder: Path, rel: str, pieces: list[Piece], marks: dict[int, Hasher]) -> Scan | None:
    """The save at ``rel`` read against ``pieces``, with ``marks`` the hash states of
    the file as last synced (``DigestMarks.below``; may be empty); None if the file is
    larger than any chunked file may be (the caller reads it whole and says why). Raises
    FileNotFoundError, NotAFileError, UnsafePathError (a symlinked folder), OSError,
    and FileChangedError if the file changed while it was read."""
    fd = os.open(is_inside(folder, rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        before = os.fstat(fd)
        if not stat_module.S_ISREG(before.st_mode):
            raise NotAFileError(f"{rel} is not a regular file; it is not synced")
        size = before.st_size
        if size > LARGE_TEXT_MAX_BYTES:
            return None
        lead, start = _leading(fd, rel, pieces, size)
        trail, end = _trailing(fd, rel, pieces[lead:], start, size)
        middle = os.pread(fd, end - start, start) if end > start else b""
        kept = {at: state for at, state in marks.items() if at <= start}
        whole = kept[start].copy() if start in kept else _prefix_state(fd, rel, start, kept)
        whole.update(middle)
        for block in read_blocks(fd, end, size, rel=rel):
            whole.update(block)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    stat = FileStat.of(before)
    if FileStat.of(after) != stat or len(middle) != end - start:
        raise FileChangedError(f"{rel} changed on disk while it was read")
    return Scan(lead, trail, middle, whole.digest(), stat, {**kept, size: whole.copy()})


def _leading(fd: int, rel: str, pieces: list[Piece], size: int) -> tuple[int, int]:
    """How many pieces are in place from the start, and the offset where they end."""
    start = 0
    for count, piece in enumerate(pieces):
        if start + piece.size > size or _digest(fd, rel, start, start + piece.size) != piece.digest:
            return count, start
        start += piece.size
    return len(pieces), start


def _prefix_state(fd: int, rel: str, stop: int, kept: dict[int, Hasher]) -> Hasher:
    """The hash state of the file's first ``stop`` bytes, from the nearest state
    below it in ``kept`` (which takes the new one)."""
    below = max((at for at in kept if at < stop), default=0)
    state = kept[below].copy() if below in kept else hashlib.sha256()
    for block in read_blocks(fd, below, stop, rel=rel):
        state.update(block)
    kept[stop] = state.copy()
    return state


def _trailing(fd: int, rel: str, pieces: list[Piece], start: int, size: int) -> tuple[int, int]:
    """How many of ``pieces`` are in place at the end of the file, never before
    ``start``, and the offset where they begin."""
    end = size
    for count, piece in enumerate(reversed(pieces)):
        begin = end - piece.size
        if begin < start or _digest(fd, rel, begin, end) != piece.digest:
            return count, end
        end = begin
    return len(pieces), end


def _digest(fd: int, rel: str, start: int, stop: int) -> bytes:
    digest = hashlib.sha256()
    for block in read_blocks(fd, start, stop, rel=rel):
        digest.update(block)
    return digest.digest()
