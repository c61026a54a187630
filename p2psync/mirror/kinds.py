"""How a file is synced: as text (a doc with a ``Y.Text``) or whole (last writer wins).

Pure: decides from the file's size and bytes alone. A file is **text** when it is valid
UTF-8 (strict: no encoded surrogates, no overlong forms), holds no NUL byte, and is at
most ``TEXT_MAX_BYTES`` long; everything else is **binary**. The decoded text turns back
into exactly the same bytes (a byte order mark and CRLF line ends are kept as they are),
so a text file round-trips through its doc unchanged. An empty file is text.

A file's kind is decided again at every save: the engine, not this module, handles a
file that changes kind.
"""

from __future__ import annotations

import enum
import hashlib

TEXT_MAX_BYTES = 4 * 1024 * 1024
"""Larger files are synced whole: a doc per character of a huge log or data dump costs
memory and time for no merge anyone needs (docs/mirror.md, "File kinds")."""
DIGEST_BYTES = 32
"""Length of ``file_digest``: SHA-256."""


class FileKind(enum.Enum):
    """How a file's content is synced."""

    TEXT = "text"
    """A doc whose root ``Y.Text`` named ``content`` holds the file: merged by character."""
    BINARY = "binary"
    """The whole file, last writer wins by hybrid logical clock."""
    CHUNKED = "chunked"
    """A large text file: a root doc listing chunk docs (``mirror.chunkfile``), merged
    by character like TEXT. Chosen by the mirror at creation, or when a TEXT file
    outgrows one doc: ``file_kind`` never returns it."""
    YDOC = "ydoc"
    """An app doc: a path ending in ``.ydoc``, its doc any Yjs types, its file the
    doc's full state as one Yjs update (``mirror.ydocfile``). Chosen by the path:
    ``file_kind`` never returns it."""

    @property
    def textual(self) -> bool:
        """Whether files of this kind are text (one doc or chunked)."""
        return self is FileKind.TEXT or self is FileKind.CHUNKED


def may_be_text(size: int) -> bool:
    """Whether a file of ``size`` bytes can be text: lets a caller skip reading a large
    file only to learn that it is binary."""
    return 0 <= size <= TEXT_MAX_BYTES


def decode_text(data: bytes) -> str | None:
    """The text of a file to sync as text, or None if it is to be synced whole."""
    if not may_be_text(len(data)) or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def file_kind(data: bytes) -> FileKind:
    """How a file holding ``data`` is synced."""
    return FileKind.BINARY if decode_text(data) is None else FileKind.TEXT


def file_digest(data: bytes) -> bytes:
    """The SHA-256 of a file's bytes (``DIGEST_BYTES`` long): tells whether a file on
    disk still holds what was last synced, without keeping a copy."""
    return hashlib.sha256(data).digest()
