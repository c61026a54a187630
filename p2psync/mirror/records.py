"""One path's sync record on disk (``mirror.state`` keeps the table of them).

A record is one small file in ``.p2psync/synced/``, named by a hash of its path: a
magic, a CRC-32C, then msgpack of the path, the doc, the digest of the bytes last
synced, the file's stat then, the merge base and the key of the doc's version. A
torn or damaged record reads as none.

It also holds the rule a restart applies to a record written ahead of a file write
that a crash cut off (``write_happened``): whether the file on disk shows the write.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import msgpack

from p2psync.mirror.chunkbases import is_layout
from p2psync.mirror.content import text_at
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.kinds import decode_text, file_digest
from p2psync.protocol.yjs import DocVersion
from p2psync.storage.format import crc32c
from p2psync.storage.layout import marker_dir

log = logging.getLogger(__name__)

RECORDS_DIR = "synced"
RECORD_MAGIC = b"P2PSR\x00\x01\x00"
_RECORD_HEAD = struct.Struct(">8sI")
MAX_RECORD_BYTES = 64 * 1024 * 1024
RECORD_KEY_CHARS = 40
"""A record file's name: this many hex digits of its path's SHA-256."""


class Synced(NamedTuple):
    """A path as last synced: its doc, the digest of the bytes, the file's stat then
    (None when not known) and the key of the doc's version whose content those bytes
    are (b"" when not known). The merge base is on disk (``SyncTable.base``)."""

    guid: str
    digest: bytes
    stat: FileStat | None
    version: bytes = b""

    def holds(self, data: bytes) -> bool:
        """Whether ``data``, bytes read from the path, are what was synced. Judged by
        the bytes, never the stat: a save made within the filesystem clock's tick of
        the write recorded (an editor saving at once over a peer's change the daemon
        just wrote) keeps the size, inode and mtime, and read as unchanged it was
        written over with the doc's older content."""
        return file_digest(data) == self.digest


class Record(NamedTuple):
    """A sync record as stored: the path, what was synced there, its merge base."""

    path: str
    guid: str
    digest: bytes
    stat: FileStat | None
    base: bytes
    version: bytes = b""

    @property
    def synced(self) -> Synced:
        return Synced(self.guid, self.digest, self.stat, self.version)


def version_key(version: DocVersion) -> bytes:
    """A short key of a doc's version (state vector and delete digest): equal keys,
    same content."""
    vector = sorted(version.state_vector.items())
    packed: bytes = msgpack.packb([vector, version.delete_digest], use_bin_type=True)
    return hashlib.sha256(packed).digest()[:16]


def record_key(rel: str) -> str:
    return hashlib.sha256(rel.encode("utf-8", "surrogatepass")).hexdigest()[:RECORD_KEY_CHARS]


def record_file(root: Path, rel: str) -> Path:
    """The file holding the sync record of share path ``rel`` (named by a digest of
    the path: any share path, any filesystem)."""
    return marker_dir(root) / RECORDS_DIR / record_key(rel)


def framed(magic: bytes, fields: object) -> bytes:
    """``fields`` as msgpack behind an 8-byte ``magic`` and the body's CRC-32C: a
    record's file, and the mirror's other small files of the same shape."""
    body: bytes = msgpack.packb(fields, use_bin_type=True)
    return _RECORD_HEAD.pack(magic, crc32c(body)) + body


def unframed(magic: bytes, data: bytes) -> Any:
    """What ``framed`` with ``magic`` made ``data`` of; ValueError if it is torn,
    damaged or of another kind."""
    if len(data) < _RECORD_HEAD.size:
        raise ValueError("shorter than its header")
    found, crc = _RECORD_HEAD.unpack_from(data)
    body = data[_RECORD_HEAD.size :]
    if found != magic or crc32c(body) != crc:
        raise ValueError("bad magic or checksum")
    return msgpack.unpackb(body, raw=False)


def encode_record(record: Record) -> bytes:
    stat = list(record.stat) if record.stat is not None else []
    fields = [record.path, record.guid, record.digest, stat, record.base, record.version]
    return framed(RECORD_MAGIC, fields)


def _decode(data: bytes) -> Record | None:
    """The record in ``data``, None if it is torn or damaged."""
    try:
        path, guid, digest, stat, base, *rest = unframed(RECORD_MAGIC, data)
        held = FileStat(*map(int, stat)) if stat else None
        version = bytes(rest[0]) if rest else b""  # records before versions have none
        return Record(str(path), str(guid), bytes(digest), held, bytes(base), version)
    except (ValueError, TypeError, msgpack.UnpackException):
        return None


def read_record(path: Path) -> Record | None:
    try:
        with path.open("rb") as file:
            # Sized by the file (a rename makes a record whole: it does not grow
            # while open); a read of MAX_RECORD_BYTES + 1 allocated 64 MiB for every
            # record of a share read at start
            size = os.fstat(file.fileno()).st_size
            data = file.read(size) if size <= MAX_RECORD_BYTES else b""
    except FileNotFoundError:
        return None
    record = _decode(data)
    if record is None:
        log.warning("ignoring the damaged sync record %s", path)
    return record


class OnDisk(NamedTuple):
    """The file at a record's path as a restart finds it."""

    data: bytes
    digest: bytes
    ino: int


def on_disk(root: Path, rel: str) -> OnDisk | None:
    """The file at ``rel`` now (None: missing or unreadable)."""
    try:
        with (root / rel).open("rb") as file:
            data = file.read()
            return OnDisk(data, file_digest(data), os.fstat(file.fileno()).st_ino)
    except OSError:
        return None


def write_happened(ahead: Record, before: Synced | None, old_base: bytes, disk: OnDisk) -> bool:
    """Whether the file write that ``ahead`` was written ahead of happened, as the file
    on disk tells. Its bytes are the written ones, or the ones recorded ``before``;
    else a program saved the file since, and its text is compared with both merge
    bases: nearer the written one (it holds what the write added and lacks what it
    removed) means the write happened. A tie keeps the old record, whose base can only
    make the next save add again what the write added, never delete it. A file
    keeping no text base (binary, chunked) is judged by its inode, which a save in
    place keeps."""
    if disk.digest == ahead.digest:
        return True
    if before is not None and disk.digest == before.digest:
        return False
    text = decode_text(disk.data)
    if text is not None and _is_text_base(ahead.base) and _is_text_base(old_base):
        try:
            written, old = text_at(ahead.base), text_at(old_base)
        except ValueError:
            log.warning("a sync record's base is not a Yjs state")
        else:
            return _line_distance(text, written) < _line_distance(text, old)
    return ahead.stat is not None and disk.ino == ahead.stat.ino


def _is_text_base(base: bytes) -> bool:
    return bool(base) and not is_layout(base)


def _line_distance(a: str, b: str) -> int:
    """How many lines are in one text and not the other, counting repeats."""
    ours, theirs = Counter(a.splitlines()), Counter(b.splitlines())
    return (ours - theirs).total() + (theirs - ours).total()
