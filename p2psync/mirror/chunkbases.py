"""A chunked file's layout kept in its sync record, so its merge bases outlive a restart.

A one-doc text file's sync record holds its merge base: the doc's state whose text
the file held (``mirror.state``). A chunked file's base is its *layout* (each chunk's
guid, length, digest and base, ``chunkfile.Piece``): without it, a restarted daemon
could only rebuild the layout from the docs, and a save made while it was down would
then be diffed against text the file never held (an append to a chunk's log, or a
peer's update stored just before a kill) and delete it.

So the record of a chunked file holds its layout, encoded here, and each chunk's
base is kept apart as a *blob*: a file in ``.p2psync/bases/`` named by the SHA-256
of its bytes. A save changes one or two chunks, so it writes one or two blobs, never
the whole file's CRDT state again. Blobs are written (and fdatasynced) before the
record that names them, and removed once no record names them (``SyncTable`` counts
the references).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgpack

from p2psync.mirror.chunkfile import Piece
from p2psync.storage.layout import marker_dir

log = logging.getLogger(__name__)

BASES_DIR = "bases"
LAYOUT_MAGIC = b"P2PSCL\x00\x01"
"""What a record's base starts with when it is a layout. Only a chunked file's record
holds one, and the mirror asks for it by kind; the mark is what tells a layout from a
one-doc base where the kind is not known (a record kept from before a crash)."""


class BaseBlobs:
    """The chunk bases of a share's chunked files: immutable files in
    ``.p2psync/bases/``, each named by the SHA-256 of its bytes (blocking I/O)."""

    def __init__(self, root: Path) -> None:
        self._dir = marker_dir(root) / BASES_DIR

    def put(self, data: bytes) -> str:
        """Store ``data`` durably (once: an existing blob is kept); its name."""
        key = hashlib.sha256(data).hexdigest()
        path = self._dir / key
        if path.exists():
            return key
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(key + ".tmp")
        with tmp.open("wb") as file:
            file.write(data)
            file.flush()
            os.fdatasync(file.fileno())
        tmp.replace(path)
        return key

    def get(self, key: str) -> bytes | None:
        """The blob named ``key``, None if it is missing or damaged."""
        try:
            data = (self._dir / key).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != key:
            log.warning("ignoring the damaged merge base %s", self._dir / key)
            return None
        return data

    def drop(self, keys: Iterable[str]) -> None:
        """Remove these blobs (no record names them any more)."""
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                (self._dir / key).unlink()

    def keep_only(self, keys: set[str]) -> None:
        """Remove every blob not in ``keys`` (and any write a crash cut off)."""
        try:
            names = [path.name for path in self._dir.iterdir()]
        except FileNotFoundError:
            return
        self.drop(name for name in names if name not in keys)


class BlobRefs:
    """Which records name which blobs: a blob goes once no record names it."""

    def __init__(self, blobs: BaseBlobs) -> None:
        self.blobs = blobs
        self._refs: dict[str, frozenset[str]] = {}
        """Record (a path, or a path's write-ahead record) -> the blobs it names."""
        self._counts: Counter[str] = Counter()

    def refer(self, name: str, base: bytes, *, loading: bool = False) -> None:
        """Record ``name`` (a path, or a path's write-ahead record) as naming the
        blobs of ``base``; remove the blobs no record names any more (not while
        ``loading``: ``prune`` removes those once every record is read)."""
        self.refer_keys(name, layout_keys(base), loading=loading)

    def refer_keys(self, name: str, new: frozenset[str], *, loading: bool = False) -> None:
        """``refer`` with the blobs named already known (a table read from its pack)."""
        old = self._refs.pop(name, frozenset())
        if new:
            self._refs[name] = new
        self._counts.update(new)
        self._counts.subtract(old)
        dead = [key for key in old - new if self._counts[key] <= 0]
        for key in dead:
            del self._counts[key]
        if not loading:
            self.blobs.drop(dead)

    def named_by(self, name: str) -> frozenset[str]:
        """The blobs record ``name`` names."""
        return self._refs.get(name, frozenset())

    def prune(self) -> None:
        """Remove every blob no record names (after loading the records)."""
        self.blobs.keep_only(set(self._counts))


def is_layout(base: bytes) -> bool:
    """Whether a record's base is a chunked file's layout (not a Yjs state)."""
    return base.startswith(LAYOUT_MAGIC)


def encode_layout(pieces: Sequence[Piece], blobs: BaseBlobs) -> bytes:
    """The layout ``pieces`` as a record's base, their bases stored as blobs first."""
    rows = [
        [p.guid, p.chars, p.size, p.digest, blobs.put(p.base) if p.base else ""] for p in pieces
    ]
    body: bytes = msgpack.packb(rows, use_bin_type=True)
    return LAYOUT_MAGIC + body


def _rows(base: bytes) -> list[tuple[str, int, int, bytes, str]] | None:
    if not is_layout(base):
        return None
    try:
        rows = msgpack.unpackb(base[len(LAYOUT_MAGIC) :], raw=False)
        return [(str(g), int(c), int(s), bytes(d), str(k)) for g, c, s, d, k in rows]
    except (ValueError, TypeError, msgpack.UnpackException):
        return None


def layout_keys(base: bytes) -> frozenset[str]:
    """The blobs a record's base names (none unless it is a layout)."""
    rows = _rows(base)
    return frozenset(key for *_, key in rows if key) if rows is not None else frozenset()


def decode_layout(base: bytes, blobs: BaseBlobs) -> list[Piece] | None:
    """The pieces of a layout stored by ``encode_layout``, their bases read back;
    None if ``base`` is not a layout or a blob it names is missing or damaged (the
    layout is then rebuilt from the docs, as before it was kept)."""
    rows = _rows(base)
    if rows is None:
        return None
    pieces = []
    for guid, chars, size, digest, key in rows:
        blob = blobs.get(key) if key else b""
        if blob is None:
            return None
        pieces.append(Piece(guid, chars, size, digest, blob))
    return pieces
