"""In-place patches of a chunked file's tail, made crash-safe by a write-ahead record.

A remote change near the end of a large chunked file leaves its first bytes as they
are. Rewriting it whole (``chunkwrite.write_plan``: a new file, fsync, rename) costs
O(file); when the unchanged prefix is at least half the new file and the rest is at
most ``PATCH_MAX_TAIL_BYTES``, the file is instead overwritten in place from the
first changed byte to its end, truncated or extended to its new size and fsynced
(``write_chunked`` picks). The SHA-256 of the whole new file (the mirror's synced
digest) comes from the hash state at the patch offset, kept for every chunk boundary
of the file whenever the mirror writes or reads it whole (``DigestMarks``: in the
same pass as its digest), so only the tail is hashed; without one (the file's stat
changed since) the prefix is read and hashed once.

An in-place write is not atomic: a crash midway leaves a torn file, which the next
start would read as a local save and merge into the doc. So before the first byte
is written a record is stored durably (``.p2psync/patching/<key>.json``, fsynced,
its folder too): the path, the doc, the file's stat before, the patch offset and the
new size and SHA-256. It is removed once the file is fsynced. A record found later
(``load_records``) means the file may be torn: ``recovery`` says whether the patch
finished (COMPLETE: drop the record), whether another file replaced it (REPLACED: a
save, read as usual), or else (TORN) the mirror writes the doc over it. The doc is
durable before any write, so it is never behind the record.

A save by another program is never overwritten knowingly: the file's stat is checked
against the one last synced when it is opened and again right before the first byte
is written (as ``fileio.write_file`` does before its rename). Blocking; no trio.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
import os
import stat as stat_mod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p2psync.errors import P2PSyncError
from p2psync.mirror.chunklayout import Part
from p2psync.mirror.chunkwrite import COPY_BLOCK_BYTES, read_blocks, write_plan
from p2psync.mirror.fileio import FileChangedError, FileStat
from p2psync.mirror.paths import is_inside
from p2psync.storage.layout import marker_dir

if TYPE_CHECKING:
    from hashlib import _Hash as Hasher
else:
    Hasher = Any

log = logging.getLogger(__name__)

PATCH_DIR = "patching"
"""Under the share's ``.p2psync/``: one record per file being patched."""
RECORD_VERSION = 1
MAX_RECORD_BYTES = 16 * 1024
"""A record is a few hundred bytes; a larger file there is not one."""
PATCH_MAX_TAIL_BYTES = 8 * 1024 * 1024
"""A longer tail is written by a full rewrite: a patch holds its tail in memory."""


class TornFileError(P2PSyncError):
    """A patch stopped after its record was stored (a write failed): the file may be
    torn, and is not to be read as a local save; ``record`` says what was meant."""

    def __init__(self, message: str, record: PatchRecord) -> None:
        super().__init__(message)
        self.record = record


class BadRecordError(P2PSyncError):
    """A file under ``.p2psync/patching/`` is not a patch record this version reads."""


@dataclass(frozen=True, slots=True)
class PatchRecord:
    """A patch about to be made: ``rel`` (doc ``guid``) was at stat ``before``; from
    byte ``offset`` on it is overwritten, to ``size`` bytes of SHA-256 ``digest``."""

    rel: str
    guid: str
    before: FileStat
    offset: int
    size: int
    digest: bytes

    def encode(self) -> bytes:
        body = {
            "version": RECORD_VERSION,
            "path": self.rel,
            "doc": self.guid,
            "before": list(self.before),
            "offset": self.offset,
            "size": self.size,
            "sha256": self.digest.hex(),
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> PatchRecord:
        """Parse a stored record. Raises BadRecordError, saying why."""
        if len(raw) > MAX_RECORD_BYTES:
            raise BadRecordError(f"a patch record of {len(raw)} bytes is too large")
        try:
            body = json.loads(raw)
            if not isinstance(body, dict) or body.get("version") != RECORD_VERSION:
                raise BadRecordError("not a version 1 patch record")
            before = FileStat(*(_count(value) for value in body["before"]))
            record = cls(
                _text(body["path"]),
                _text(body["doc"]),
                before,
                _count(body["offset"]),
                _count(body["size"]),
                bytes.fromhex(_text(body["sha256"])),
            )
        except BadRecordError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRecordError(f"a malformed patch record: {exc}") from None
        if len(record.digest) != hashlib.sha256().digest_size or record.offset > record.size:
            raise BadRecordError("a patch record with an impossible digest or offset")
        return record


class Recovery(enum.Enum):
    """What a record left by a stopped patch says of its file."""

    REPLACED = "replaced"
    """The file is gone, or another file took its place: nothing of the patch is in it."""
    COMPLETE = "complete"
    """The patch finished (the file has the record's size and digest)."""
    TORN = "torn"
    """The patch may be half done: the doc is to be written over the file."""


class DigestMarks:
    """SHA-256 states at the chunk boundaries of chunked files as last written here:
    a patch from a boundary digests its tail only. Valid for one stat of one file."""

    def __init__(self) -> None:
        self._marks: dict[str, tuple[FileStat, dict[int, Hasher]]] = {}

    def at(self, rel: str, stat: FileStat, offset: int) -> Hasher | None:
        """A copy of the hash state of ``rel``'s first ``offset`` bytes, if known for
        the file at ``stat``."""
        held = self._marks.get(rel)
        if held is None or held[0] != stat or offset not in held[1]:
            return None
        return held[1][offset].copy()

    def below(self, rel: str, stat: FileStat, offset: int) -> dict[int, Hasher]:
        """The known states of ``rel`` at ``stat`` up to ``offset``."""
        held = self._marks.get(rel)
        if held is None or held[0] != stat:
            return {}
        return {at: state for at, state in held[1].items() if at <= offset}

    def learn(self, rel: str, stat: FileStat, data: bytes, sizes: list[int]) -> bytes:
        """The SHA-256 of ``data`` (the file ``rel`` at ``stat``, read or written
        whole), keeping the states at the boundaries of chunks of ``sizes``: one pass,
        as the digest alone would cost."""
        hasher = hashlib.sha256()
        if sum(sizes) != len(data):
            self.forget(rel)
            hasher.update(data)
            return hasher.digest()
        view = memoryview(data)
        found: dict[int, Hasher] = {0: hasher.copy()}
        at = 0
        for size in sizes:
            hasher.update(view[at : at + size])
            at += size
            found[at] = hasher.copy()
        self.put(rel, stat, found)
        return hasher.digest()

    def put(self, rel: str, stat: FileStat, marks: dict[int, Hasher]) -> None:
        self._marks[rel] = (stat, marks)

    def forget(self, rel: str) -> None:
        self._marks.pop(rel, None)


def tail_of(parts: list[Part]) -> tuple[int, int]:
    """``(offset, size)`` of a plan (``ChunkedFiles.plan``): where its first part
    that is not the old file's bytes at their own place starts, and the new size."""
    offset = 0
    for piece, source in parts:
        if source != (offset, offset + piece.size):
            break
        offset += piece.size
    return offset, sum(piece.size for piece, _ in parts)


def pays(offset: int, size: int) -> bool:
    """Whether a patch from ``offset`` of a file of new size ``size`` is made in
    place: the unchanged prefix is at least half of it, the tail bounded."""
    return offset > 0 and 2 * offset >= size and size - offset <= PATCH_MAX_TAIL_BYTES


def write_chunked(
    root: Path,
    rel: str,
    parts: list[Part],
    *,
    guid: str,
    executable: bool,
    expect: FileStat,
    marks: DigestMarks,
    prepared: Callable[[FileStat, bytes], None] | None = None,
) -> tuple[FileStat, bytes]:
    """Write a chunked file's plan: patched in place when ``pays``, else rewritten
    (``write_plan``, which calls ``prepared`` ahead of its rename; a patch calls it
    ahead of removing its own record). Returns the new stat and SHA-256. Raises FileChangedError if
    the file is no longer ``expect`` (nothing written), TornFileError if a patch
    failed after its record was stored, OSError as ``write_plan`` does."""
    offset, size = tail_of(parts)
    if not pays(offset, size) or offset > expect.size:
        marks.forget(rel)
        found: dict[int, Hasher] = {}
        written, digest = write_plan(
            root,
            rel,
            parts,
            executable=executable,
            expect=expect,
            boundary=lambda at, state: found.update({at: state.copy()}),
            prepared=prepared,
        )
        marks.put(rel, written, found)
        return written, digest
    return patch_file(root, rel, parts, guid=guid, expect=expect, marks=marks, prepared=prepared)


def patch_file(
    root: Path,
    rel: str,
    parts: list[Part],
    *,
    guid: str,
    expect: FileStat,
    marks: DigestMarks,
    prepared: Callable[[FileStat, bytes], None] | None = None,
) -> tuple[FileStat, bytes]:
    """Overwrite ``rel`` from the plan's first changed byte to its end, crash-safe
    (see the module doc); ``prepared(stat, digest)`` is called once the file is
    fsynced, before its record is removed: the file's sync record is written ahead as
    a rewrite's is (without it, a kill between the record's removal and the sync
    record's commit left the patched file read back as a save, what it wrote merged
    in twice). Errors as ``write_chunked``."""
    offset, size = tail_of(parts)
    fd = os.open(is_inside(root, rel), os.O_RDWR | os.O_NOFOLLOW)
    try:
        if FileStat.of(os.fstat(fd)) != expect:
            raise FileChangedError(f"{rel} changed on disk since it was read")
        tail = _tail_bytes(fd, rel, parts, offset)
        known = marks.below(rel, expect, offset)
        new_marks = known if offset in known else _digest_prefix(fd, rel, parts, offset)
        hasher = new_marks[offset].copy()
        at = 0
        for piece, _ in parts:
            if at >= offset:
                hasher.update(tail[at - offset : at - offset + piece.size])
                new_marks[at + piece.size] = hasher.copy()
            at += piece.size
        record = PatchRecord(rel, guid, expect, offset, size, hasher.digest())
        write_record(root, record)
        _overwrite(root, rel, fd, record, tail)
        written = _as_written(FileStat.of(os.fstat(fd)), size)
    finally:
        os.close(fd)
    if prepared is not None:  # the sync record, written ahead while this one holds
        prepared(written, record.digest)
    try:
        remove_record(root, rel)
    except OSError as exc:
        raise TornFileError(f"{rel} was patched but its patch record stays: {exc}", record) from exc
    marks.put(rel, written, new_marks)
    return written, record.digest


def _as_written(now: FileStat, size: int) -> FileStat:
    """The stat to record for a file just patched to ``size`` bytes: its stat now,
    unless its size says another program wrote to it since the patch (the file is
    the same inode, so no stat can be taken before such a write). Then a stat the
    file does not have, so the next look reads it as a save, not as this write."""
    return now if now.size == size else now._replace(size=size)


def _tail_bytes(fd: int, rel: str, parts: list[Part], offset: int) -> bytes:
    """The new bytes from ``offset`` on: old ranges are read before any is overwritten."""
    tail: list[bytes] = []
    at = 0
    for piece, source in parts:
        if at >= offset:
            tail.append(source if isinstance(source, bytes) else _pread(fd, rel, *source))
        at += piece.size
    return b"".join(tail)


def _digest_prefix(fd: int, rel: str, parts: list[Part], offset: int) -> dict[int, Hasher]:
    """The hash states of the file's first bytes at each chunk boundary up to
    ``offset``, read block by block."""
    hasher = hashlib.sha256()
    found: dict[int, Hasher] = {0: hasher.copy()}
    at = 0
    for piece, _ in parts:
        if at >= offset:
            break
        for block in read_blocks(fd, at, at + piece.size, rel=rel):
            hasher.update(block)
        at += piece.size
        found[at] = hasher.copy()
    return found


def _pread(fd: int, rel: str, start: int, stop: int) -> bytes:
    data = os.pread(fd, stop - start, start)
    if len(data) != stop - start:
        raise FileChangedError(f"{rel} changed on disk since it was read")
    return data


def _overwrite(root: Path, rel: str, fd: int, record: PatchRecord, tail: bytes) -> None:
    """Check the file is still the one expected (by path: a rename over it counts),
    then write ``tail`` at the record's offset, set the size and fsync. The record
    is removed if the check fails; it stays if a write fails (TornFileError)."""
    try:
        now = os.lstat(is_inside(root, rel))
        if FileStat.of(now) != record.before or FileStat.of(os.fstat(fd)) != record.before:
            raise FileChangedError(f"{rel} changed on disk since it was read")
    except BaseException:
        remove_record(root, rel)
        raise
    try:
        view = memoryview(tail)
        at = 0
        while at < len(view):
            at += os.pwrite(fd, view[at:], record.offset + at)
        os.ftruncate(fd, record.size)
        os.fdatasync(fd)
    except OSError as exc:
        raise TornFileError(f"patching {rel} failed midway: {exc}", record) from exc


# -- records ----------------------------------------------------------------------


def record_path(root: Path, rel: str) -> Path:
    """Where the record of a patch of ``rel`` is kept (named by a hash of the path:
    any share path gives a short, safe name)."""
    key = hashlib.sha256(rel.encode()).hexdigest()[:32]
    return marker_dir(root) / PATCH_DIR / f"{key}.json"


def write_record(root: Path, record: PatchRecord) -> None:
    """Store ``record`` durably: a temp file, fsynced, renamed, the folder fsynced."""
    path = record_path(root, record.rel)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, record.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    _fsync_dir(path.parent)


def remove_record(root: Path, rel: str) -> None:
    """Drop the record of ``rel`` (if any), durably."""
    path = record_path(root, rel)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        _fsync_dir(path.parent)


def load_records(root: Path) -> dict[str, PatchRecord]:
    """The records left by patches that did not finish, by path. A file there that is
    not a record is logged and removed (it names no file: nothing to recover)."""
    folder = marker_dir(root) / PATCH_DIR
    try:
        paths = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    found: dict[str, PatchRecord] = {}
    for path in paths:
        try:
            if path.suffix != ".json":
                raise BadRecordError("not a patch record")
            record = PatchRecord.decode(path.read_bytes()[: MAX_RECORD_BYTES + 1])
            if record_path(root, record.rel) != path:
                raise BadRecordError(f"a patch record of {record.rel} under another name")
        except (BadRecordError, OSError) as exc:
            log.warning("share folder %s: removing %s: %s", root, path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        found[record.rel] = record
    return found


def recovery(root: Path, record: PatchRecord) -> Recovery:
    """What became of the file of a record found at start (see ``Recovery``). Reads
    the file (block by block) only when it has the record's size."""
    try:
        st = os.lstat(is_inside(root, record.rel))
    except (FileNotFoundError, NotADirectoryError):
        return Recovery.REPLACED
    if not stat_mod.S_ISREG(st.st_mode) or st.st_ino != record.before.ino:
        return Recovery.REPLACED
    if st.st_size == record.size and _file_digest(root / record.rel) == record.digest:
        return Recovery.COMPLETE
    return Recovery.TORN


def _file_digest(path: Path) -> bytes | None:
    hasher = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while block := file.read(COPY_BLOCK_BYTES):
                hasher.update(block)
    except OSError:
        return None
    return hasher.digest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRecordError(f"{value!r} is not a count")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise BadRecordError(f"{value!r} is not a string")
    return value
