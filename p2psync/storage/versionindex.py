"""The durable file of one doc's timeline (``<log>.versions``, docs/history.md).

The file is an 8-byte magic, a format version, the body's length and CRC-32, and a
msgpack body: one array per version. It is replaced atomically (temp file, fsync,
rename, directory fsync), so a crash leaves the old timeline or the new one.
``load_timeline`` raises StorageError for a file that does not validate; nothing is
ever dropped silently.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgpack

from p2psync.errors import StorageError
from p2psync.storage.fileops import REAL_FILE_OPS, FileOps, write_file_atomically
from p2psync.storage.retention import RetentionPolicy, kept_indices
from p2psync.storage.timeline import Version

SUFFIX = ".versions"
MAGIC = b"P2PSVER\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sHII")
"""magic, format version, body length, CRC-32 of the body."""


def versions_path(log_path: Path) -> Path:
    """The timeline file beside the log at ``log_path``."""
    return log_path.with_name(log_path.name + SUFFIX)


def encode_timeline(timeline: list[Version]) -> bytes:
    """The file bytes of ``timeline``."""
    body: bytes = msgpack.packb(
        [
            [v.time, v.device, v.kind, v.log_end, v.size, v.added, v.removed, v.state, v.number]
            for v in timeline
        ],
        use_bin_type=True,
    )
    return _HEADER.pack(MAGIC, FORMAT_VERSION, len(body), zlib.crc32(body)) + body


def decode_timeline(data: bytes, path: Path) -> list[Version]:
    """Parse a timeline file; raise StorageError naming ``path`` if it does not validate."""
    if len(data) < _HEADER.size:
        raise StorageError(path, "the history file is shorter than its header")
    magic, version, length, crc = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != MAGIC or version != FORMAT_VERSION:
        raise StorageError(path, "not a history file of a version this p2psync reads")
    if len(body) != length or zlib.crc32(body) != crc:
        raise StorageError(path, "the history file is cut short or fails its checksum")
    try:
        rows = msgpack.unpackb(body, raw=False, max_bin_len=length)
        return [
            Version(float(t), str(d), str(k), int(e), int(s), int(a), int(r), bytes(st), int(n))
            for t, d, k, e, s, a, r, st, n in rows
        ]
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise StorageError(path, f"the history file does not decode: {exc}") from None


def load_timeline(path: Path) -> list[Version]:
    """The timeline stored at ``path``, empty if there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(path, f"cannot read the history file: {exc.strerror}") from exc
    return decode_timeline(data, path)


def save_timeline(path: Path, timeline: list[Version], *, ops: FileOps = REAL_FILE_OPS) -> None:
    """Replace the timeline at ``path`` durably (OSError propagates; the old file stays)."""
    write_file_atomically(path, encode_timeline(timeline), ops=ops)


def prune(timeline: list[Version], now: float, policy: RetentionPolicy) -> list[Version]:
    """The versions of ``timeline`` that ``policy`` keeps at ``now``, oldest first."""
    keep = kept_indices([v.time for v in timeline], now, policy)
    return [v for i, v in enumerate(timeline) if i in keep]
