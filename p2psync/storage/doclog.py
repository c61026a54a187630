"""One document's append-only log file: durable appends (one log's, or a group
commit of many), reading what other local processes appended, compaction commits.
Opening it repairs what a crash or damage left (``storage.logrepair``).

A ``DocLog`` is blocking and not thread-safe: exactly one task (the doc's
``LogWriter``) drives it, usually through ``trio.to_thread``. Other processes may
append to the same file at the same time; every writer follows the locking protocol
of docs/storage.md:

1. open the path with ``O_APPEND``, take ``flock(LOCK_EX)``;
2. if the path now names another inode (the log was compacted or replaced while we
   waited), close and start again;
3. check that the file ends on a record boundary (cut a torn tail left by a crashed
   writer), write whole records with one ``write``, ``fdatasync``, unlock.

Readers take ``LOCK_SH``, so they never see a record that is still being written.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from p2psync.errors import CorruptLogError, LogWriteError, StorageError, UnsupportedLogError
from p2psync.storage import format as fmt
from p2psync.storage.fileops import REAL_FILE_OPS, FileOps
from p2psync.storage.logrepair import (
    Recovery,
    names_same_file,
    open_locked,
    pread_all,
    quarantine,
    read_all,
    repair_torn_tail,
)

log = logging.getLogger(__name__)

GROUP_SYNC_THREADS = 32
"""How many fdatasyncs of a group commit (``append_group``) run at once: concurrent
fsyncs on one filesystem share its journal commits."""
CrashHook = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LogStats:
    """Sizes that decide when a log is compacted."""

    records_since_snapshot: int
    log_bytes: int
    snapshot_bytes: int


@dataclass(frozen=True, slots=True)
class OpenResult:
    """A freshly opened log, every record it holds, and what recovery did (if anything)."""

    log: DocLog
    records: list[fmt.Record]
    recovery: Recovery | None

    @property
    def updates(self) -> list[bytes]:
        """Every Yjs update of the log in order, ready to replay."""
        return [u for record in self.records for u in record.updates]


class DocLog:
    """An open document log. Create with :meth:`DocLog.open`."""

    def __init__(self, path: Path, fd: int, end: int, stats: LogStats, ops: FileOps) -> None:
        self.path = path
        self._fd = fd
        self._end = end
        self._stats = stats
        self._ops = ops
        self._unseen: list[fmt.Record] = []
        self._broken: str | None = None
        self._replaced = False
        self._updates = 0
        """How many updates the file holds up to ``_end``: the position of the next
        update appended (file history numbers its versions by it, docs/history.md)."""
        self._dir_unsynced = False
        """Created by this open and its name not yet durable: the first append fsyncs
        the folder too (a new log costs no fsync until it holds something)."""

    # -- opening -----------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool = True, ops: FileOps = REAL_FILE_OPS) -> OpenResult:
        """Open (or create) the log at ``path``, repairing it if a crash or damage left
        it inconsistent, and return every record it holds.

        A torn tail is cut off and logged. A corrupt record is reported through the
        returned :class:`Recovery`; the file is kept under ``.quarantine/`` beside it
        and the log is rewritten with the valid prefix. Raises UnsupportedLogError
        (file untouched) for a newer format, StorageError if the file cannot be
        opened, FileNotFoundError if it is missing and ``create`` is false.
        """
        recovery: Recovery | None = None
        while True:
            fd = open_locked(path, create=create)
            try:
                data = read_all(fd)
                scan = fmt.scan_log(data)
                if scan.stop is None or scan.stop.damage is not fmt.Damage.CORRUPT:
                    torn, created = repair_torn_tail(path, fd, data, scan, ops)
                    break
                recovery = quarantine(path, data, scan, ops)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the path now names the repaired file: open that
        fcntl.flock(fd, fcntl.LOCK_UN)
        end = max(scan.end, fmt.FILE_HEADER_BYTES)
        opened = cls(path, fd, end, _stats_of(scan.records, end), ops)
        opened._dir_unsynced = created
        opened._updates = _update_count(scan.records)
        if torn:
            recovery = Recovery(path, torn_bytes=torn)
        return OpenResult(opened, scan.records, recovery)

    def close(self) -> None:
        """Close the file. Appends are durable already; nothing is flushed here."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DocLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state -------------------------------------------------------------------

    @property
    def end(self) -> int:
        """File offset up to which every record is either ours or already handed out."""
        return self._end

    def all_ours(self) -> bool:
        """Whether the file at the log's path is still this log, holding nothing past
        ``end`` and nothing unseen: no other process appended to it, replaced it or
        deleted it. Blocking (two stats); False when in doubt."""
        if self._fd < 0 or self._unseen:
            return False
        try:
            st, here = self.path.stat(), os.fstat(self._fd)
        except OSError:
            return False
        return (st.st_dev, st.st_ino, st.st_size) == (here.st_dev, here.st_ino, self._end)

    @property
    def update_count(self) -> int:
        """How many updates the log holds (a snapshot counts as one), including those
        other processes appended that ``read_new`` has not returned yet."""
        return self._updates

    def updates_before(self, end: int) -> list[bytes]:
        """Every update of the records before byte ``end`` (a record boundary at or
        before ``self.end``), in order. Those bytes never change while the log is open
        but through ``commit_compaction``, so no lock is taken; the caller serialises
        it with compaction (``LogWriter`` does). Raises CorruptLogError if they do not
        validate."""
        scan = fmt.scan_log(pread_all(self._fd, 0, end))
        if scan.stop is not None or scan.end != end:
            offset = scan.stop.offset if scan.stop else scan.end
            reason = scan.stop.reason if scan.stop else "the range does not end on a record"
            raise CorruptLogError(self.path, offset, reason)
        return [u for record in scan.records for u in record.updates]

    @property
    def stats(self) -> LogStats:
        """Current sizes, for the compaction policy."""
        return self._stats

    # -- appending ---------------------------------------------------------------

    def append(self, updates: Sequence[bytes]) -> None:
        """Durably append ``updates``: returns only after ``fdatasync``.

        All updates go into one write and one fsync (several updates form one UPDATES
        record, stored or lost together). On any OS error the file is cut back to its
        previous end and LogWriteError is raised: none of these updates is stored.
        """
        data = fmt.encode_updates(updates)
        with self._locked(fcntl.LOCK_EX):
            self._catch_up(may_repair=True)
            start = self._end
            try:
                self._ops.write_all(self._fd, data)
                self._ops.fdatasync(self._fd)
                if self._dir_unsynced:  # a new log: its name must be durable too
                    self._ops.fsync_dir(self.path.parent)
                    self._dir_unsynced = False
            except OSError as exc:
                self._roll_back(start, exc)
                raise LogWriteError(
                    self.path, f"append of {len(updates)} update(s) failed: {exc.strerror}"
                ) from exc
            self._end = start + len(data)
            self._updates += len(updates)
            s = self._stats
            self._stats = LogStats(s.records_since_snapshot + 1, self._end, s.snapshot_bytes)

    def _roll_back(self, start: int, cause: OSError) -> None:
        """Cut off whatever part of a failed append reached the file."""
        try:
            self._ops.truncate(self._fd, start)
            self._ops.fdatasync(self._fd)
        except OSError as exc:
            self._broken = f"could not undo a failed append ({cause.strerror}, then {exc.strerror})"
            log.error("%s: %s; reopen the log to recover", self.path, self._broken)

    # -- reading what others appended --------------------------------------------

    @property
    def has_unseen(self) -> bool:
        """Whether records appended by another process were read and not yet taken
        (``read_new``)."""
        return bool(self._unseen)

    def read_new(self) -> list[bytes]:
        """Return the updates other processes appended since the last call, in order.

        Our own appends are never returned. Raises CorruptLogError if appended bytes
        fail validation (reopen the log to quarantine and recover).
        """
        with self._locked(fcntl.LOCK_SH):
            self._catch_up(may_repair=False)
        records, self._unseen = self._unseen, []
        return [u for record in records for u in record.updates]

    def _catch_up(self, *, may_repair: bool) -> None:
        """Parse records appended by others after our cursor into the unseen queue.

        Called with the lock held. A torn tail under the exclusive lock is a crashed
        writer's leftover: it is cut off when ``may_repair`` is true.
        """
        size = os.fstat(self._fd).st_size
        if size == self._end:
            return
        if size < self._end:
            self._broken = f"log shrank from {self._end} to {size} bytes behind our back"
            raise StorageError(self.path, self._broken)
        data = pread_all(self._fd, self._end, size - self._end)
        scan = fmt.scan_records(data, 0, base=self._end)
        self._unseen.extend(scan.records)
        self._updates += _update_count(scan.records)
        if scan.records:
            s = self._stats
            added = len(scan.records)
            self._stats = LogStats(s.records_since_snapshot + added, scan.end, s.snapshot_bytes)
        self._end = scan.end
        stop = scan.stop
        if stop is None or (stop.damage is fmt.Damage.TORN and not may_repair):
            return
        if stop.damage is fmt.Damage.TORN:
            log.warning(
                "%s: cut %d bytes of an interrupted append at offset %d",
                self.path, size - scan.end, scan.end,
            )  # fmt: skip
            self._ops.truncate(self._fd, scan.end)
            self._ops.fdatasync(self._fd)
            return
        if stop.damage is fmt.Damage.UNSUPPORTED:
            raise UnsupportedLogError(self.path, f"at offset {stop.offset}: {stop.reason}")
        raise CorruptLogError(self.path, stop.offset, stop.reason)

    # -- compaction --------------------------------------------------------------

    def commit_compaction(
        self, prefix_end: int, snapshot: bytes, *, crash_hook: CrashHook | None = None
    ) -> None:
        """Replace the records before ``prefix_end`` with one SNAPSHOT record.

        ``snapshot`` must hold the full state of those records. Records after
        ``prefix_end`` (ours and other processes') are copied verbatim behind it.
        Steps: temp file, fsync, ``os.replace``, directory fsync; a crash at any step
        leaves either the old or the new log. On an OS error the old log is untouched
        and LogWriteError is raised. ``crash_hook`` is called after each step (tests).
        """
        hook = crash_hook or _no_hook
        tmp = self.path.with_name(f".{self.path.name}.compact.tmp")
        head = fmt.encode_header() + fmt.encode_snapshot(snapshot)
        with self._locked(fcntl.LOCK_EX):
            self._catch_up(may_repair=True)
            if not fmt.FILE_HEADER_BYTES <= prefix_end <= self._end:
                raise StorageError(self.path, f"compaction prefix {prefix_end} out of range")
            tail = pread_all(self._fd, prefix_end, self._end - prefix_end)
            try:
                tmp_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
                try:
                    self._ops.write_all(tmp_fd, head + tail)
                    hook("written")
                    self._ops.fsync(tmp_fd)
                    hook("synced")
                finally:
                    os.close(tmp_fd)
                self._ops.replace(tmp, self.path)
            except OSError as exc:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                raise LogWriteError(self.path, f"compaction failed: {exc.strerror}") from exc
            hook("replaced")
            with contextlib.suppress(OSError):  # the new log is complete either way
                self._ops.fsync_dir(self.path.parent)
            hook("dir-synced")
            new_fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
            old_fd, self._fd = self._fd, new_fd
            os.close(old_fd)  # also releases the lock on the old file
        tail_scan = fmt.scan_records(tail, 0).records
        tail_records = len(tail_scan)
        self._updates = 1 + _update_count(tail_scan)
        self._end = len(head) + len(tail)
        self._stats = LogStats(tail_records, self._end, len(snapshot))

    # -- locking -----------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        """Hold ``flock(mode)`` on the file the path names now.

        If another process replaced the file (a move onto the path), switch to the new
        file and queue all of its records as unseen: applying updates twice is harmless.
        """
        if self._broken is not None:
            raise LogWriteError(self.path, self._broken)
        if self._fd < 0:
            raise StorageError(self.path, "log is closed")
        fcntl.flock(self._fd, mode)
        try:
            if not names_same_file(self._fd, self.path):
                self._follow_replacement()
                fcntl.flock(self._fd, mode)
            yield
        finally:
            if self._fd >= 0:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def take_replaced(self) -> bool:
        """Whether the file was replaced or deleted (and created again, empty) behind
        our back since the last call. What the old file held may then be on disk no
        more: the owner should append what it holds in memory."""
        replaced, self._replaced = self._replaced, False
        return replaced

    def _follow_replacement(self) -> None:
        """Switch to the file the path names now, opened (and repaired, or created
        with a header if the old one was deleted) as ``open`` would, and queue all of
        its records as unseen. The lock is not held on return."""
        log.warning("%s: replaced or deleted by another process; re-reading it", self.path)
        self._replaced = True
        os.close(self._fd)
        self._fd = -1
        try:
            opened = DocLog.open(self.path, ops=self._ops)
        except (OSError, StorageError) as exc:  # its folder is gone too (deleted, unmounted)
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            self._broken = f"the log vanished and cannot be recreated: {reason}"
            raise LogWriteError(self.path, self._broken) from exc
        fresh = opened.log
        self._fd, fresh._fd = fresh._fd, -1
        self._end, self._stats = fresh._end, fresh._stats
        self._updates = fresh._updates
        self._dir_unsynced = fresh._dir_unsynced
        self._unseen.extend(opened.records)


def append_group(
    appends: Sequence[tuple[DocLog, Sequence[bytes]]], *, threads: int = GROUP_SYNC_THREADS
) -> list[StorageError | None]:
    """Durably append to several logs as one group commit: each log's updates are
    written as one record (each under its lock, as ``DocLog.append``), every log is
    fdatasynced (``threads`` at a time), then each folder that holds a log created
    by its open is fsynced once, for all of them (many new logs: one folder fsync,
    not one per log). Returns only once all of it is durable: per log, None, or the
    error that kept its updates from being stored (none of them is then; the others
    are unaffected). Blocking: run it in a worker thread.
    """
    results: list[StorageError | None] = [None] * len(appends)
    staged: list[tuple[int, DocLog, int, int]] = []  # index, log, start, bytes
    with contextlib.ExitStack() as locks:
        for index, (doclog, updates) in enumerate(appends):
            data = fmt.encode_updates(updates)
            try:
                locks.enter_context(doclog._locked(fcntl.LOCK_EX))
                doclog._catch_up(may_repair=True)
            except StorageError as exc:
                results[index] = exc
                continue
            start = doclog._end
            try:
                doclog._ops.write_all(doclog._fd, data)
            except OSError as exc:
                doclog._roll_back(start, exc)
                results[index] = _group_error(doclog, updates, exc)
                continue
            staged.append((index, doclog, start, len(data)))
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            synced = list(pool.map(lambda s: _fdatasync_quietly(s[1]), staged))
        folders = {s[1].path.parent: s[1] for s, error in zip(staged, synced, strict=True)
                   if error is None and s[1]._dir_unsynced}  # fmt: skip
        folder_errors = {folder: _fsync_dir_quietly(one, folder) for folder, one in folders.items()}
        for (index, doclog, start, size), synced_error in zip(staged, synced, strict=True):
            folder_error = folder_errors.get(doclog.path.parent) if doclog._dir_unsynced else None
            error = synced_error or folder_error
            updates = appends[index][1]
            if error is not None:
                doclog._roll_back(start, error)
                results[index] = _group_error(doclog, updates, error)
                continue
            doclog._dir_unsynced = False
            doclog._end = start + size
            doclog._updates += len(updates)
            s = doclog._stats
            doclog._stats = LogStats(s.records_since_snapshot + 1, doclog._end, s.snapshot_bytes)
    return results


def remove_empty_log(path: Path) -> bool:
    """Delete the log at ``path`` if it holds no record (its header, part of it, or
    nothing: what a crash between creating a log and its first append leaves), and
    return whether it did. Safe while other processes use the log: the check and the
    unlink happen under its exclusive lock, and a writer that opened the file before
    finds, under that lock, that the path names it no more and creates it again
    (``DocLog._locked``). Raises StorageError if the file cannot be opened."""
    try:
        fd = open_locked(path, create=False)
    except FileNotFoundError:
        return False
    try:
        if os.fstat(fd).st_size > fmt.FILE_HEADER_BYTES or fmt.scan_log(read_all(fd)).records:
            return False
        path.unlink()
        return True
    except OSError as exc:
        raise StorageError(path, f"cannot remove an empty log: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _fdatasync_quietly(doclog: DocLog) -> OSError | None:
    try:
        doclog._ops.fdatasync(doclog._fd)
    except OSError as exc:
        return exc
    return None


def _fsync_dir_quietly(doclog: DocLog, folder: Path) -> OSError | None:
    try:
        doclog._ops.fsync_dir(folder)
    except OSError as exc:
        return exc
    return None


def _group_error(doclog: DocLog, updates: Sequence[bytes], exc: OSError) -> LogWriteError:
    return LogWriteError(doclog.path, f"append of {len(updates)} update(s) failed: {exc.strerror}")


def _no_hook(step: str) -> None:
    del step


def _update_count(records: list[fmt.Record]) -> int:
    return sum(len(record.updates) for record in records)


def _stats_of(records: list[fmt.Record], end: int) -> LogStats:
    snapshot_bytes = 0
    since = len(records)
    for i in range(len(records) - 1, -1, -1):
        if records[i].type is fmt.RecordType.SNAPSHOT:
            snapshot_bytes = len(records[i].updates[0])
            since = len(records) - 1 - i
            break
    return LogStats(since, end, snapshot_bytes)
