"""The durable file of one doc's timeline (``<log>.versions``, docs/history.md).

The file is an 8-byte magic, a format version, the body's length and CRC-32, and a
msgpack body: the versions (one array each; a ``rename`` has a tenth field, its old
path, a chunked file's version an eleventh, the key of its text, and a version whose
state is chained to the one before (``storage.historystates``) a twelfth, 1, which
the others leave out) and the pending compaction (or nil). A timeline none of whose
versions holds a state is format 1, each row's state field empty. One that holds
states is format 2: the body has a third element, every state in row order as one
msgpack array, xz-compressed together (a chain is read from its start, and one
state's text is much like the next's: together they take about 70 % of what each
compressed alone took), and a row holding a state has ``true`` in its state field.
Format 1 files of an older p2psync, whose chained states are each zlib-compressed in
their rows, are still read. It is replaced atomically (temp file, fsync, rename,
directory fsync), so a crash leaves the old timeline or the new one; a new small
timeline is created in place instead (fsync, directory fsync), so a crash leaves it
whole, absent or empty, and an empty file reads as no timeline.
``load_timeline`` raises StorageError for a file that does not validate; nothing is
ever dropped silently. A compaction in progress is recorded in it too
(``PendingFold``), so that a crash between the log's rewrite and the timeline's is
finished at the next load.
"""

from __future__ import annotations

import functools
import logging
import lzma
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import msgpack

from p2psync.errors import StorageError
from p2psync.storage.fileops import (
    REAL_FILE_OPS,
    SMALL_FILE,
    FileOps,
    write_file_atomically,
    write_new_file,
)
from p2psync.storage.retention import RetentionPolicy, kept_indices, within_bytes
from p2psync.storage.timeline import Version

log = logging.getLogger(__name__)


class SharedCap(Protocol):
    """A cap on binary versions shared by a share's files
    (``storage.binarybudget.BinaryBudget``, which reads timelines through this module)."""

    def kept(self, path: Path, past: list[tuple[float, int, int]]) -> set[int]:
        """Of the past versions (time, number, size) of the timeline at ``path``, the
        numbers the share's cap keeps."""
        ...


SUFFIX = ".versions"
MAGIC = b"P2PSVER\n"
FORMAT_VERSION = 1
"""A timeline without states (each row's state field empty)."""
STATES_FORMAT_VERSION = 2
"""A timeline with states, kept compressed together at the end of the body."""
_HEADER = struct.Struct(">8sHII")
"""magic, format version, body length, CRC-32 of the body."""


def versions_path(log_path: Path) -> Path:
    """The timeline file beside the log at ``log_path``."""
    return log_path.with_name(log_path.name + SUFFIX)


@dataclass(frozen=True, slots=True)
class PendingFold:
    """A compaction whose kept versions got their states, written before the log is
    replaced: once the log starts with the snapshot whose CRC-32 is ``snapshot_crc``,
    the versions past the first ``prefix_updates`` updates move back (docs/history.md)."""

    prefix_updates: int
    snapshot_crc: int


def encode_timeline(timeline: list[Version], pending: PendingFold | None = None) -> bytes:
    """The file bytes of ``timeline`` (and of a compaction not known to be done)."""
    fold = [pending.prefix_updates, pending.snapshot_crc] if pending is not None else None
    states = tuple(v.state for v in timeline if v.state)
    if not states:
        body: bytes = msgpack.packb([[_row(v) for v in timeline], fold], use_bin_type=True)
        return _HEADER.pack(MAGIC, FORMAT_VERSION, len(body), zlib.crc32(body)) + body
    rows = [_row(v, in_states=bool(v.state)) for v in timeline]
    body = msgpack.packb([rows, fold, _pack_states(states)], use_bin_type=True)
    return _HEADER.pack(MAGIC, STATES_FORMAT_VERSION, len(body), zlib.crc32(body)) + body


@functools.lru_cache(maxsize=16)
def _pack_states(states: tuple[bytes, ...]) -> bytes:
    """``states`` as one xz stream. A timeline is written again at every new version
    while its states stay the same, so the last few packings are kept (bytes hash
    once, and compare by identity first)."""
    packed: bytes = msgpack.packb(list(states), use_bin_type=True)
    dict_size = max(1 << 16, 1 << (len(packed) - 1).bit_length())  # the decoder's memory
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": min(dict_size, 1 << 26)}]
    return lzma.compress(packed, format=lzma.FORMAT_XZ, check=lzma.CHECK_NONE, filters=filters)


def _unpack_states(blob: bytes, length: int) -> list[bytes]:
    """The states ``_pack_states`` packed; ValueError if they do not decode."""
    try:
        packed = lzma.decompress(blob, format=lzma.FORMAT_XZ)
    except lzma.LZMAError as exc:
        raise ValueError(f"its states do not decompress: {exc}") from None
    states = msgpack.unpackb(packed, raw=False, max_bin_len=len(packed))
    if not isinstance(states, list) or not all(isinstance(s, bytes) and s for s in states):
        raise ValueError("its states are not a list of states")
    if len(states) != length:
        raise ValueError(f"{length} versions hold a state, but {len(states)} states are stored")
    return states


def _row(v: Version, *, in_states: bool = False) -> list[Any]:
    """One version's row: nine fields, and the optional ones only as the version
    needs them; its state field ``true`` if its state is ``in_states`` (format 2)."""
    state = True if in_states else v.state
    row = [v.time, v.device, v.kind, v.log_end, v.size, v.added, v.removed, state, v.number]
    if v.others:
        return [*row, v.old_path, v.text_key, int(v.chained), list(v.others)]
    if v.chained:
        return [*row, v.old_path, v.text_key, 1]
    return row + ([v.old_path, v.text_key] if v.text_key else [v.old_path] if v.old_path else [])


def is_newer_format(data: bytes) -> bool:
    """Whether ``data`` is a timeline file of a newer p2psync (a format this one does
    not read), rather than a damaged one."""
    if len(data) < _HEADER.size:
        return False
    magic, version, _, _ = _HEADER.unpack_from(data)
    return bool(magic == MAGIC and version > STATES_FORMAT_VERSION)


def decode_timeline(data: bytes, path: Path) -> list[Version]:
    """Parse a timeline file; raise StorageError naming ``path`` if it does not validate."""
    return decode_index(data, path)[0]


def decode_index(data: bytes, path: Path) -> tuple[list[Version], PendingFold | None]:
    """``decode_timeline``, and the compaction the file says may be pending."""
    if len(data) < _HEADER.size:
        raise StorageError(path, "the history file is shorter than its header")
    magic, version, length, crc = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != MAGIC or version not in (FORMAT_VERSION, STATES_FORMAT_VERSION):
        raise StorageError(path, "not a history file of a version this p2psync reads")
    if len(body) != length or zlib.crc32(body) != crc:
        raise StorageError(path, "the history file is cut short or fails its checksum")
    try:
        parts = msgpack.unpackb(body, raw=False, max_bin_len=length)
        if len(parts) != (2 if version == FORMAT_VERSION else 3):
            raise ValueError(f"a body of {len(parts)} parts")
        rows, fold = parts[:2]
        pending = PendingFold(int(fold[0]), int(fold[1])) if fold is not None else None
        if version == FORMAT_VERSION:
            return [_unzipped(_version(row)) for row in rows], pending
        marked = [row[7] is True for row in rows]
        states = iter(_unpack_states(parts[2], sum(marked)))
        timeline = [_version([*row[:7], next(states) if mark else row[7], *row[8:]])
                    for row, mark in zip(rows, marked, strict=True)]  # fmt: skip
        return timeline, pending
    except (ValueError, TypeError, IndexError, zlib.error, msgpack.UnpackException) as exc:
        raise StorageError(path, f"the history file does not decode: {exc}") from None


def _unzipped(version: Version) -> Version:
    """A format 1 version: a chained state was zlib-compressed in its row."""
    if not version.chained:
        return version
    return replace(version, state=zlib.decompress(version.state))


def _version(row: list[Any]) -> Version:
    """One row of the file: nine fields, a tenth (the old path) for a rename, an
    eleventh (the text's key) for a chunked file's version, a twelfth (1) for a
    version whose state is chained to the one before, a thirteenth (a list) for the
    other devices of a version several made."""
    if len(row) not in (9, 10, 11, 12, 13):
        raise ValueError(f"a version of {len(row)} fields")
    t, d, k, e, s, a, r, st, n = row[:9]
    old, key = (str(field) for field in [*row[9:11], "", ""][:2])
    chained = len(row) >= 12 and row[11] == 1
    others = tuple(str(device) for device in row[12]) if len(row) == 13 else ()
    return Version(float(t), str(d), str(k), int(e), int(s), int(a), int(r), bytes(st), int(n),
                   old_path=old, text_key=key, chained=chained, others=others)  # fmt: skip


def load_timeline(path: Path) -> list[Version]:
    """The timeline stored at ``path``, empty if there is none yet."""
    return load_index(path)[0]


def load_index(path: Path) -> tuple[list[Version], PendingFold | None]:
    """``load_timeline``, and the compaction the file says may be pending."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], None
    except OSError as exc:
        raise StorageError(path, f"cannot read the history file: {exc.strerror}") from exc
    if not data:  # a new timeline whose first write a crash cut off (``save_timeline``)
        log.warning("%s: empty history file, read as none (a crash cut its first write?)", path)
        return [], None
    return decode_index(data, path)


def save_timeline(
    path: Path,
    timeline: list[Version],
    pending: PendingFold | None = None,
    *,
    ops: FileOps = REAL_FILE_OPS,
    new: bool = False,
) -> None:
    """Replace the timeline at ``path`` durably (OSError propagates; the old file stays).
    A ``new`` one (no file was there when it was read) is created in place if small
    (``write_new_file``: a crash leaves it whole, absent or empty, which reads as
    none), as the first versions of a first scan's or a first sync's thousands of
    docs are; else, or if a file is there after all, replaced atomically."""
    data = encode_timeline(timeline, pending)
    if new and len(data) <= SMALL_FILE:
        try:
            write_new_file(path, data, ops=ops)
            return
        except FileExistsError:
            pass
    write_file_atomically(path, data, ops=ops)


def prune(
    timeline: list[Version],
    now: float,
    policy: RetentionPolicy,
    *,
    binary: bool = False,
    budget: tuple[SharedCap, Path] | None = None,
) -> list[Version]:
    """The versions of ``timeline`` that ``policy`` keeps at ``now``, oldest first.

    The policy picks among the versions that hold a text, so a deleted file's last
    text is its newest such version and always kept (a deletion never pushes it out
    of its hour or day). A deletion is kept while it is the newest version or the
    version before it is kept. The timeline of a ``binary`` file is also held to
    ``policy.max_bytes``: its oldest versions go first, never its newest; with a
    ``budget`` (the share's, and this timeline's path in it) the cap is the share's,
    across its binary files (``storage.binarybudget``), else this file's alone."""
    texts = [i for i, v in enumerate(timeline) if v.kind != "delete"]
    kept = kept_indices([timeline[i].time for i in texts], now, policy)
    if binary and budget is not None and kept:
        newest, *past = sorted(kept, reverse=True)
        rows = [(timeline[texts[i]].time, timeline[texts[i]].number, timeline[texts[i]].size)
                for i in reversed(past)]  # fmt: skip
        numbers = budget[0].kept(budget[1], rows)
        kept = {newest} | {i for i in past if timeline[texts[i]].number in numbers}
    elif binary:
        kept = within_bytes([timeline[i].size for i in texts], kept, policy.max_bytes)
    keep = {texts[i] for i in kept}
    for i, version in enumerate(timeline):
        if version.kind == "delete" and (i == len(timeline) - 1 or i - 1 in keep):
            keep.add(i)
    return [v for i, v in enumerate(timeline) if i in keep]
