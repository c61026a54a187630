"""The layout of a chunked file: what the mirror knows of each chunk as last synced.

A ``Piece`` is one chunk's record (its guid, length, digest and merge base), a
``Layout`` a file's pieces in order, ``match`` where unchanged pieces still are in
the file's bytes (pure), and a ``Part`` one piece of a file to write
(``chunkwrite.write_plan``). ``mirror.chunkfile`` keeps the layouts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk as the file was last synced: its bytes' length and digest, and its
    base: the chunk doc's full state holding that text, which a save of the chunk is
    merged against (empty where not known: a layout from before the roots kept one)."""

    guid: str
    chars: int
    size: int
    digest: bytes
    base: bytes = field(default=b"", compare=False, repr=False)


Part = tuple[Piece, tuple[int, int] | bytes]
"""A chunk of a file to write: its record, and its byte range in the old file or its
bytes."""


@dataclass
class Layout:
    """A chunked file as last synced, and the chunks peers changed since."""

    pieces: list[Piece]
    dirty: set[str] = field(default_factory=set)
    written: bool = True
    """The pieces are what was written to (or read from) the file. False for a layout
    rebuilt from the docs (after a restart, or a kind change): the docs may hold
    changes the file lacks, so its byte offsets are trusted only once hashed."""


def piece_of(guid: str, data: bytes, base: bytes = b"") -> Piece:
    """The record of a chunk holding ``data`` (its UTF-8 bytes), whose doc at state
    ``base`` holds that text."""
    return Piece(guid, len(data.decode()), len(data), hashlib.sha256(data).digest(), base)


def match(pieces: list[Piece], data: bytes) -> dict[str, tuple[int, int]]:
    """Where each chunk of ``pieces`` still is in ``data``, unchanged: the run of
    leading chunks found in order at the start, and the run of trailing ones found at
    the end (never overlapping). Pure."""
    found: dict[str, tuple[int, int]] = {}
    start = 0
    first_changed = len(pieces)
    for index, piece in enumerate(pieces):
        stop = start + piece.size
        if stop > len(data) or hashlib.sha256(data[start:stop]).digest() != piece.digest:
            first_changed = index
            break
        found[piece.guid] = (start, stop)
        start = stop
    end = len(data)
    for piece in reversed(pieces[first_changed:]):
        begin = end - piece.size
        if begin < start or hashlib.sha256(data[begin:end]).digest() != piece.digest:
            break
        found[piece.guid] = (begin, end)
        end = begin
    return found
