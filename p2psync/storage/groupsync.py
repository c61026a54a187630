"""Group commit across logs: one ``syncfs`` makes the appends of many logs durable.

Each doc's LogWriter groups the appends of its own log into one fdatasync. A share
receiving thousands of new docs at once (a first sync) has thousands of writers with
one append each, and on a virtual disk every fdatasync is a cache flush of a few
milliseconds however many run at once. ``GroupSync`` lets the writer threads that
need a sync at the same time share one ``syncfs`` of the filesystem: the first to
arrive calls it, those arriving meanwhile wait for the next one, which one of them
calls for all. A sync that started before a caller arrived never counts for it.

Errors: ``syncfs`` reports a writeback error once, to whichever call sees it first, and
that call may be another group's. So every failed sync is remembered, and a caller
fails if any sync that ran since it started writing failed (its data may have been
flushed, and lost, by that one). ``syncfs`` reports writeback errors only since Linux
5.8: elsewhere, and where the call is missing, ``grouped_ops`` gives the plain
per-file operations.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Callable

from p2psync.storage.fileops import REAL_FILE_OPS, FileOps

MIN_LINUX = (5, 8)
KEPT_FAILURES = 1024


class GroupSync:
    """Shares ``syncfs`` calls between threads (thread-safe; blocking)."""

    def __init__(self, syncfs: Callable[[int], None]) -> None:
        self._syncfs = syncfs
        self._cond = threading.Condition()
        self._started = 0
        self._finished = 0
        self._running = False
        self._pending: list[int] = []
        self._failed: dict[int, OSError] = {}

    def mark(self) -> int:
        """Call before writing: the number of the sync the write may race with."""
        with self._cond:
            return self._started

    def sync(self, fd: int, since: int) -> None:
        """Return once a sync that started after this call has made ``fd``'s filesystem
        durable; raise OSError if it failed, or if any sync from number ``since`` (a
        ``mark`` taken before the write) on failed."""
        with self._cond:
            ticket = self._started + 1
            self._pending.append(fd)
            while self._finished < ticket:
                if self._running:
                    self._cond.wait()
                    continue
                self._run_one()
            failures = [n for n in self._failed if since <= n <= ticket]
            if failures:
                cause = self._failed[failures[0]]
                raise OSError(cause.errno, cause.strerror)

    def _run_one(self) -> None:
        """Run the next sync for every pending caller (lock held on entry and exit)."""
        self._running = True
        self._started += 1
        number = self._started
        fds, self._pending = self._pending, []
        self._cond.release()
        error: OSError | None = None
        try:
            for fd in {os.fstat(fd).st_dev: fd for fd in fds}.values():
                self._syncfs(fd)
        except OSError as exc:
            error = exc
        finally:
            self._cond.acquire()
        if error is not None:
            self._failed[number] = error
            for old in [n for n in self._failed if n <= number - KEPT_FAILURES]:
                del self._failed[old]
        self._finished = number
        self._running = False
        self._cond.notify_all()


class GroupedFileOps(FileOps):
    """File operations whose ``fdatasync`` is a shared ``syncfs`` (``GroupSync``).

    A syncfs makes the folder entries of new files durable as well, so a log's first
    append needs no fsync of its folder (``syncs_filesystem``)."""

    syncs_filesystem = True

    def __init__(self, group: GroupSync) -> None:
        self._group = group
        self._marks: dict[int, int] = {}

    def write_all(self, fd: int, data: bytes) -> None:
        self._marks[fd] = self._group.mark()
        super().write_all(fd, data)

    def truncate(self, fd: int, size: int) -> None:
        self._marks[fd] = self._group.mark()
        super().truncate(fd, size)

    def fdatasync(self, fd: int) -> None:
        self._group.sync(fd, self._marks.pop(fd, 0))

    def fsync(self, fd: int) -> None:
        self.fdatasync(fd)


def _libc_syncfs() -> Callable[[int], None] | None:
    """``syncfs(2)`` where it reports writeback errors (Linux 5.8+), else None."""
    if platform.system() != "Linux":
        return None
    try:
        release = tuple(int(part) for part in platform.release().split(".")[:2])
        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (ValueError, AttributeError, OSError):
        return None
    if release < MIN_LINUX:
        return None

    def syncfs(fd: int) -> None:
        if call(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))

    return syncfs


def grouped_ops() -> FileOps:
    """Operations for the logs of one share: grouped syncs where the system allows."""
    syncfs = _libc_syncfs()
    return GroupedFileOps(GroupSync(syncfs)) if syncfs is not None else REAL_FILE_OPS
