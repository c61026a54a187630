"""The durable file of a share's persisted index (``.p2psync/index.bin``).

What the index exchange needs survives a restart here, so the daemon starts without
replaying every log and a reconnect costs only what changed (docs/storage.md): the share's
index ID and sequence, each doc's version with the sequence of its last change and the
size and mtime of its log when that version was recorded, and for each peer the last
point of its index it confirmed, with the versions it announced.

The file is an 8-byte magic, a format version, the body's length and CRC-32, and a
msgpack body (docs/storage.md, "Persisted index"). It is replaced atomically (temp
file, fsync, rename, directory fsync). ``decode_index`` raises CorruptIndexError for
anything that does not validate; the caller rebuilds the index from the logs.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from p2psync.errors import CorruptIndexError
from p2psync.storage.fileops import REAL_FILE_OPS, FileOps, write_file_atomically
from p2psync.storage.layout import marker_dir

INDEX_FILE_NAME = "index.bin"
MAGIC = b"P2PSIDX\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sHII")
"""magic, format version, body length, CRC-32 of the body."""
HEADER_BYTES = _HEADER.size
MAX_INDEX_FILE_BYTES = 256 * 1024 * 1024
"""Far above 10,000 docs with a few peers (about 100 bytes per doc and peer)."""
INDEX_ID_BYTES = 8
DIGEST_BYTES = 16


@dataclass(frozen=True, slots=True)
class DocRecord:
    """One doc as our index last recorded it: the sequence of its last change, its
    version (state vector as a dict, delete-set digest), and the log's size and mtime
    (ns) when that version was the whole of the log."""

    sequence: int
    state_vector: dict[int, int]
    delete_digest: bytes
    log_size: int
    log_mtime_ns: int
    log_name: str = ""
    """The log's file name, so start-up need not decode every name back to a guid
    (empty: unknown, decoded then)."""


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """What one peer's index told us: its index ID, how far we are up to date with it,
    and per doc the sequence and version (state vector, delete digest) it announced."""

    index_id: bytes
    max_sequence: int
    versions: dict[str, tuple[int, dict[int, int], bytes]] = field(default_factory=dict)
    refused: bool = False
    """Recorded while we took none of the peer's changes (it was receive-only, or we
    send-only): what it announced then and we refused is behind ``max_sequence``."""


@dataclass(frozen=True, slots=True)
class StoredIndex:
    """A share's persisted index. ``clean`` is true only when the daemon that wrote it
    stopped in order: after a crash, peers may have seen sequence numbers this file
    never recorded, so the index takes a new ID."""

    index_id: bytes
    max_sequence: int
    clean: bool
    docs: dict[str, DocRecord] = field(default_factory=dict)
    peers: dict[str, PeerRecord] = field(default_factory=dict)


def index_path(share_root: Path) -> Path:
    """The persisted index file of the share at ``share_root``."""
    return marker_dir(share_root) / INDEX_FILE_NAME


def encode_index(index: StoredIndex) -> bytes:
    """The file bytes of ``index``."""
    body: bytes = msgpack.packb(
        {
            "i": index.index_id,
            "m": index.max_sequence,
            "c": index.clean,
            "d": {
                g: [
                    r.sequence,
                    _sv(r.state_vector),
                    r.delete_digest,
                    r.log_size,
                    r.log_mtime_ns,
                    r.log_name,
                ]
                for g, r in index.docs.items()
            },
            "p": {
                key: [
                    p.index_id,
                    p.max_sequence,
                    {g: [s, _sv(v), d] for g, (s, v, d) in p.versions.items()},
                ]
                for key, p in index.peers.items()
            },
            "r": [key for key, p in index.peers.items() if p.refused],
        },
        use_bin_type=True,
    )
    return _HEADER.pack(MAGIC, FORMAT_VERSION, len(body), zlib.crc32(body)) + body


def decode_index(data: bytes, path: Path) -> StoredIndex:
    """Parse the bytes of an index file; raise CorruptIndexError naming ``path`` if
    they are not a whole, valid index of a version this code reads."""
    if len(data) < HEADER_BYTES:
        raise CorruptIndexError(path, f"{len(data)} bytes is shorter than the header")
    magic, version, length, crc = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CorruptIndexError(path, "not a p2psync index file (bad magic)")
    if version != FORMAT_VERSION:
        raise CorruptIndexError(path, f"index format version {version} is not supported")
    body = data[HEADER_BYTES:]
    if len(body) != length or zlib.crc32(body) != crc:
        raise CorruptIndexError(path, "the body is cut short or fails its checksum")
    try:
        raw = msgpack.unpackb(body, raw=False, strict_map_key=False, max_bin_len=length)
        return _from_raw(raw)
    except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
        raise CorruptIndexError(path, f"the body does not decode: {exc}") from None


def load_index(path: Path) -> StoredIndex | None:
    """The index stored at ``path``, None if there is none. Raises CorruptIndexError
    for a file that does not validate (or cannot be read, or is too large)."""
    try:
        size = path.stat().st_size
        if size > MAX_INDEX_FILE_BYTES:
            raise CorruptIndexError(path, f"{size} bytes exceeds {MAX_INDEX_FILE_BYTES}")
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptIndexError(path, f"cannot be read: {exc.strerror}") from None
    return decode_index(data, path)


def save_index(path: Path, index: StoredIndex, *, ops: FileOps = REAL_FILE_OPS) -> None:
    """Replace the index file at ``path`` atomically. Raises OSError on failure (the
    previous file is then untouched)."""
    write_file_atomically(path, encode_index(index), mode=0o600, ops=ops)


def _sv(vector: dict[int, int]) -> list[int]:
    return [n for pair in sorted(vector.items()) for n in pair]


def _vector(flat: Any) -> dict[int, int]:
    if not isinstance(flat, list) or len(flat) % 2:
        raise ValueError("a state vector must be a flat list of client, clock pairs")
    vector = {_uint(c): _uint(k) for c, k in zip(flat[::2], flat[1::2], strict=True)}
    if len(vector) * 2 != len(flat):
        raise ValueError("a client appears twice in a state vector")
    return vector


def _uint(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not an unsigned integer")
    return value


def _bin(value: Any, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise ValueError(f"expected {size} bytes")
    return value


def _map(value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected a map")
    return value


def _guid(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a doc guid must be a non-empty string")
    return value


def _from_raw(raw: Any) -> StoredIndex:
    raw = _map(raw)
    docs: dict[str, DocRecord] = {}
    for guid, (seq, sv, digest, size, mtime, name) in _map(raw["d"]).items():
        if not isinstance(name, str):
            raise TypeError("a log name must be a string")
        docs[_guid(guid)] = DocRecord(
            _uint(seq), _vector(sv), _bin(digest, DIGEST_BYTES), _uint(size), _uint(mtime), name
        )
    listed = raw.get("r", [])  # absent in files of older versions
    if not isinstance(listed, list):
        raise TypeError("'r' must be an array")
    refused = {_guid(key) for key in listed}
    peers: dict[str, PeerRecord] = {}
    for key, (index_id, max_seq, versions) in _map(raw["p"]).items():
        peers[_guid(key)] = PeerRecord(
            _bin(index_id, INDEX_ID_BYTES),
            _uint(max_seq),
            {
                _guid(g): (_uint(s), _vector(v), _bin(d, DIGEST_BYTES))
                for g, (s, v, d) in _map(versions).items()
            },
            _guid(key) in refused,
        )
    clean = raw["c"]
    if not isinstance(clean, bool):
        raise TypeError("'c' must be true or false")
    return StoredIndex(_bin(raw["i"], INDEX_ID_BYTES), _uint(raw["m"]), clean, docs, peers)
