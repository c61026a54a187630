"""The document log format: pure encoding and decoding, no I/O.

This module owns the byte layout specified in docs/storage.md and nothing else: it
never opens files, never calls pycrdt and never decides what to do about damage. It
turns bytes into records and says precisely where and why bytes are not records.

Layout::

    file   = header record*
    header = MAGIC (8 bytes) | version u32 | crc32c(magic|version) u32        16 bytes
    record = length u32 | type u8 | crc32c(payload) u32 | crc32c(first 9 bytes) u32
             | payload (length bytes)                                        13 + length

Record types: UPDATE (payload = one Yjs v1 update), SNAPSHOT (one Yjs v1 update holding
a full state), UPDATES (a msgpack array of Yjs v1 updates written by one group commit,
so a batch is stored or lost as a whole and replay parses one record per batch).

All integers are little-endian. The header CRC covers the length, so a damaged length
is detected before it is trusted; the payload CRC covers the payload. A record that is
*incomplete* at the end of the data (fewer than 13 header bytes, or a valid header whose
payload runs past the end) is a torn tail; any CRC mismatch is corruption.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import crc32c as _crc32c
import msgpack

MAGIC = b"\x89P2PLOG\n"
FORMAT_VERSION = 1
MAX_RECORD_BYTES = 256 * 1024 * 1024

_FILE_HEADER = struct.Struct("<8sI")
_FILE_CRC = struct.Struct("<I")
FILE_HEADER_BYTES = _FILE_HEADER.size + _FILE_CRC.size
_RECORD_FIELDS = struct.Struct("<IBI")
_RECORD_CRC = struct.Struct("<I")
RECORD_HEADER_BYTES = _RECORD_FIELDS.size + _RECORD_CRC.size

crc32c = _crc32c.crc32c


class RecordType(enum.IntEnum):
    """What a record's payload holds."""

    UPDATE = 1
    """One Yjs v1 update."""
    SNAPSHOT = 2
    """One Yjs v1 update holding the doc's full state as of a compaction."""
    UPDATES = 3
    """A msgpack array of Yjs v1 updates appended together."""


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded record: where it lies in the file and the Yjs updates it holds."""

    offset: int
    end: int
    type: RecordType
    updates: list[bytes]


class Damage(enum.Enum):
    """Why decoding stopped before the end of the data."""

    TORN = "torn"
    """The data ends inside a record: an interrupted append, safe to cut off."""
    CORRUPT = "corrupt"
    """Bytes fail a CRC or a sanity check: not ours to cut off silently."""
    UNSUPPORTED = "unsupported"
    """A valid record of a type this version does not know: a newer writer."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Where and why decoding stopped before consuming all the data."""

    offset: int
    damage: Damage
    reason: str


@dataclass(frozen=True, slots=True)
class Scan:
    """The outcome of decoding a run of records.

    ``records`` are every record that validated, in order; ``end`` is the offset just
    past the last of them; ``stop`` says why decoding ended early, or is None when the
    data ended exactly on a record boundary.
    """

    records: list[Record]
    end: int
    stop: Stop | None


def encode_header(version: int = FORMAT_VERSION) -> bytes:
    """Return the 16-byte file header."""
    fields = _FILE_HEADER.pack(MAGIC, version)
    return fields + _FILE_CRC.pack(crc32c(fields))


def check_header(data: bytes) -> Stop | None:
    """Validate the file header at the start of ``data``; None means it is good."""
    if len(data) < FILE_HEADER_BYTES:
        if MAGIC.startswith(data[: len(MAGIC)]):
            return Stop(0, Damage.TORN, "file ends inside its header")
        return Stop(0, Damage.CORRUPT, "not a p2psync log (bad magic)")
    magic, version = _FILE_HEADER.unpack_from(data)
    (crc,) = _FILE_CRC.unpack_from(data, _FILE_HEADER.size)
    if crc != crc32c(data[: _FILE_HEADER.size]):
        return Stop(0, Damage.CORRUPT, "file header checksum mismatch")
    if magic != MAGIC:
        return Stop(0, Damage.CORRUPT, "not a p2psync log (bad magic)")
    if version != FORMAT_VERSION:
        return Stop(0, Damage.UNSUPPORTED, f"log format version {version} is not supported")
    return None


def encode_record(payload: bytes, type_: RecordType) -> bytes:
    """Return one record of ``type_`` whose payload is ``payload`` (already encoded).

    Raises ValueError if the payload exceeds MAX_RECORD_BYTES.
    """
    if len(payload) > MAX_RECORD_BYTES:
        raise ValueError(f"record payload of {len(payload)} bytes exceeds {MAX_RECORD_BYTES}")
    fields = _RECORD_FIELDS.pack(len(payload), type_, crc32c(payload))
    return b"".join((fields, _RECORD_CRC.pack(crc32c(fields)), payload))


def encode_updates(updates: Sequence[bytes]) -> bytes:
    """Return the record(s) storing ``updates``, ready for a single write.

    One update becomes an UPDATE record; several become one UPDATES record, so they are
    stored or lost together. Batches too large for one record are split.
    Raises ValueError for an empty sequence or a single update over MAX_RECORD_BYTES.
    """
    if not updates:
        raise ValueError("no updates to encode")
    if len(updates) == 1:
        return encode_record(updates[0], RecordType.UPDATE)
    payload = msgpack.packb(list(updates), use_bin_type=True)
    if len(payload) <= MAX_RECORD_BYTES:
        return encode_record(payload, RecordType.UPDATES)
    half = len(updates) // 2
    return encode_updates(updates[:half]) + encode_updates(updates[half:])


def encode_snapshot(state: bytes) -> bytes:
    """Return a SNAPSHOT record holding a full-state Yjs update."""
    return encode_record(state, RecordType.SNAPSHOT)


def _decode_batch(payload: bytes) -> list[bytes] | None:
    """Return the updates of an UPDATES payload, or None if it is not a list of bytes."""
    try:
        value = msgpack.unpackb(
            payload,
            use_list=True,
            raw=True,
            max_bin_len=MAX_RECORD_BYTES,
            max_str_len=0,
            max_array_len=MAX_RECORD_BYTES,
            max_map_len=0,
            max_ext_len=0,
        )
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return None
    if not isinstance(value, list) or not all(isinstance(u, bytes) for u in value):
        return None
    return value


def read_record(data: memoryview, offset: int) -> Record | Stop:
    """Decode the one record starting at ``offset``, or say why there is none."""
    size = len(data)
    if size - offset < RECORD_HEADER_BYTES:
        return Stop(offset, Damage.TORN, "data ends inside a record header")
    length, type_code, payload_crc = _RECORD_FIELDS.unpack_from(data, offset)
    (header_crc,) = _RECORD_CRC.unpack_from(data, offset + _RECORD_FIELDS.size)
    if header_crc != crc32c(data[offset : offset + _RECORD_FIELDS.size]):
        return Stop(offset, Damage.CORRUPT, "record header checksum mismatch")
    if length > MAX_RECORD_BYTES:
        return Stop(offset, Damage.CORRUPT, f"record length {length} too large")
    body = offset + RECORD_HEADER_BYTES
    end = body + length
    if end > size:
        return Stop(offset, Damage.TORN, "data ends inside a record payload")
    payload = bytes(data[body:end])
    if crc32c(payload) != payload_crc:
        return Stop(offset, Damage.CORRUPT, "record payload checksum mismatch")
    record_type = _KNOWN_TYPES.get(type_code)
    if record_type is None:
        return Stop(offset, Damage.UNSUPPORTED, f"unknown record type {type_code}")
    if record_type is not RecordType.UPDATES:
        return Record(offset, end, record_type, [payload])
    updates = _decode_batch(payload)
    if updates is None:
        return Stop(offset, Damage.CORRUPT, "malformed update batch")
    return Record(offset, end, record_type, updates)


def scan_records(data: bytes | memoryview, start: int, *, base: int = 0) -> Scan:
    """Decode records from ``data[start:]`` until the data ends or a record fails.

    ``base`` is the file offset of ``data[0]`` when ``data`` is a slice of a file, so
    every offset reported is a file offset. Never raises on any input bytes.
    """
    view = memoryview(data)
    records: list[Record] = []
    offset = start
    while offset < len(view):
        result = read_record(view, offset)
        if isinstance(result, Stop):
            stop = Stop(base + result.offset, result.damage, result.reason)
            return Scan(records, base + offset, stop)
        if base:
            result = Record(base + result.offset, base + result.end, result.type, result.updates)
        records.append(result)
        offset = result.end - base
    return Scan(records, base + offset, None)


def scan_log(data: bytes | memoryview) -> Scan:
    """Decode a whole log file's bytes: the header, then every record."""
    stop = check_header(bytes(data[:FILE_HEADER_BYTES]))
    if stop is not None:
        return Scan([], 0, stop)
    return scan_records(data, FILE_HEADER_BYTES)


_KNOWN_TYPES: dict[int, RecordType] = {t.value: t for t in RecordType}
