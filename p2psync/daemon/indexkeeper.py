"""Keeps one share's persisted index (``storage.indexstore``) in step with the engine.

At start it reads the index file and the size and mtime of every log, removes the
empty logs a crash left (``mirror/leftovers.py``), and tells the share which docs to
hold unloaded and which logs to read again (``replica.index``). A missing or corrupt
file is never fatal: every log is read again, with a log line. While the share runs
it records each doc's version when that version is the whole of its log (when the
doc is unloaded, and at an orderly stop), and writes the file at most every
``SAVE_INTERVAL_S`` while something changed (less often for a share whose index
takes long to write: ``save_wait_s``), and once at the end: a burst of changes costs
one write, not one fsync per update.

A marker file (``index.running``) exists from the start of a run until the clean
write of its orderly stop, so a crash makes the next start take a new index ID
(``replica.index``) without a full index write at every start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Hashable, Set
from dataclasses import dataclass
from pathlib import Path

import trio

from p2psync.errors import CorruptIndexError
from p2psync.mirror.leftovers import remove_leftovers
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica
from p2psync.replica.index import StartPlan, plan_start, reread, restore, snapshot
from p2psync.replica.sync import ShareSync
from p2psync.storage.doclog import DocLog
from p2psync.storage.fileops import write_file_atomically
from p2psync.storage.indexstore import DocRecord, StoredIndex, index_path, load_index, save_index
from p2psync.storage.layout import docs_dir, guid_of_log, log_path
from p2psync.storage.logrepair import Recovery

log = logging.getLogger(__name__)

SAVE_INTERVAL_S = 2.0
"""The least time between two writes of the index while it changes."""
SAVE_SHARE = 0.02
"""The most of the daemon's time writing the index may take while a share keeps
changing (``save_wait_s``): for 10,000 docs one write took 0.1 to 0.5 s (encoding,
in a worker thread that holds the interpreter, and the fsync), every 2 s of a first
sync."""


def save_wait_s(last_save_s: float) -> float:
    """How long to wait before the next write of an index whose last write took
    ``last_save_s``: ``SAVE_INTERVAL_S``, or long enough that writes take at most
    ``SAVE_SHARE`` of the time. A crash loses nothing by a later write: the next
    start reads again the logs that changed since the index was written."""
    return max(SAVE_INTERVAL_S, last_save_s / SAVE_SHARE)


RUNNING_FILE_NAME = "index.running"
"""Exists while a daemon runs the share; found at start, the last run crashed."""


def _stat_logs(root: Path, known: dict[str, str]) -> dict[str, tuple[int, int]]:
    """guid → (size, mtime) of every log of the share; ``known`` maps log names to
    guids (from the index), so only new names are decoded."""
    logs: dict[str, tuple[int, int]] = {}
    with os.scandir(docs_dir(root)) as entries:
        for entry in entries:
            guid = known.get(entry.name) or guid_of_log(Path(entry.name))
            if guid is not None and entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                logs[guid] = (st.st_size, st.st_mtime_ns)
    return logs


@dataclass(frozen=True, slots=True)
class ReadLog:
    """A log read again at start-up: the version of its doc, the size and mtime it
    had (None if another process appended while it was read), what recovery did."""

    guid: str
    version: DocVersion
    stat: tuple[int, int] | None
    recovery: Recovery | None


def read_logs(root: Path, guids: list[str]) -> list[ReadLog]:
    """Replay each log of ``guids`` in a scratch doc, keeping only its version
    (blocking: run it in a worker thread; nothing stays in memory)."""
    read = []
    for guid in guids:
        opened = DocLog.open(log_path(root, guid))
        try:
            st = opened.log.path.stat()
            stat = (st.st_size, st.st_mtime_ns) if st.st_size == opened.log.end else None
        finally:
            opened.log.close()
        read.append(ReadLog(guid, DocReplica(guid, opened.updates).version(), stat,
                            opened.recovery))  # fmt: skip
    return read


class IndexKeeper:
    """The persisted index of the share at ``root``, for the engine ``sync``."""

    def __init__(self, root: Path, sync: ShareSync, name: str) -> None:
        self.path = index_path(root)
        self._running = self.path.with_name(RUNNING_FILE_NAME)
        self._root = root
        self._sync = sync
        self._name = name
        self.records: dict[str, DocRecord] = {}
        """The durable record of each doc: its version when it was the whole log."""
        self._saved_marker: object = None
        self._failing = False
        """Whether the last write failed (its error is logged once)."""
        self._recorded = 0
        self.rebuilt = False
        """True when this start found no usable index and read every log."""
        self.unstored: Callable[[], Set[str]] = frozenset
        """The docs held in memory whose changes are not durable yet (the share's
        ``DocLogs.unstored``): what peers' indexes told us of them is not written, so
        that a start after a crash asks for them again."""

    async def start(self, parse_peer: Callable[[str], Hashable | None]) -> StartPlan:
        """Read the index and stat every log; set up the engine; return what to read."""
        stored: StoredIndex | None
        try:
            stored = await trio.to_thread.run_sync(load_index, self.path)
        except CorruptIndexError as exc:
            log.warning("share %s: %s; rebuilding the index from the logs", self._name, exc)
            stored = None
        known = {r.log_name: g for g, r in stored.docs.items() if r.log_name} if stored else {}
        logs = await trio.to_thread.run_sync(_stat_logs, self._root, known)
        await self._remove_leftovers(logs)
        if stored is None and logs:
            log.warning("share %s: no usable index; reading all %d logs", self._name, len(logs))
        self.rebuilt = stored is None and bool(logs)
        if stored is not None and stored.clean and self._running.exists():
            log.warning("share %s: the last run did not stop in order; new index ID", self._name)
            stored = dataclasses.replace(stored, clean=False)
        plan = plan_start(stored, logs)
        restore(self._sync, stored, plan, parse_peer)
        self.records = dict(plan.trusted)
        log.info("share %s: %d docs from the index, %d logs to read", self._name,
                 len(plan.trusted), len(plan.reread))  # fmt: skip
        # From now on a crash must change the index ID: the marker says a run is on.
        await trio.to_thread.run_sync(write_file_atomically, self._running, b"")
        return plan

    async def _remove_leftovers(self, logs: dict[str, tuple[int, int]]) -> None:
        """Remove the empty logs a crash left (``mirror/leftovers.py``) before they are
        planned for, and forget them in ``logs``."""
        sizes = {guid: size for guid, (size, _) in logs.items()}
        removed = await trio.to_thread.run_sync(remove_leftovers, self._root, sizes)
        for guid in removed:
            del logs[guid]
        if removed:
            log.info("share %s: removed %d empty log(s) a crash left before their first "
                     "update", self._name, len(removed))  # fmt: skip

    def record(self, guid: str, record: DocRecord) -> None:
        """Doc ``guid``'s log now holds exactly ``record``'s version."""
        self.records[guid] = record
        self._recorded += 1

    def log_unchanged(self, guid: str, path: Path) -> bool:
        """True if the log of the unloaded doc ``guid`` at ``path`` still has the size
        and mtime recorded when its doc was unloaded (or trusted at start): it holds
        nothing the doc's version lacks. The log watcher's event for the daemon's own
        last append often comes after the doc was unloaded; loading it again for that
        read a whole log for nothing (one of the reasons a first sync of 10,000 files
        loaded each doc three to four times)."""
        record = self.records.get(guid)
        if record is None:
            return False
        try:
            st = path.stat()
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) == (record.log_size, record.log_mtime_ns)

    async def reread(self, guids: list[str]) -> list[ReadLog]:
        """Read the logs of ``guids`` (start-up) and hold their docs unloaded at what
        they hold; returns what was read (for recovery reports)."""
        read = await trio.to_thread.run_sync(read_logs, self._root, guids)
        for item in read:
            sequence = reread(self._sync, item.guid, item.version)
            if item.stat is not None:
                v = item.version
                name = log_path(self._root, item.guid).name
                self.records[item.guid] = DocRecord(sequence, v.state_vector, v.delete_digest,
                                                    *item.stat, name)  # fmt: skip
        return read

    async def save(self, *, clean: bool) -> None:
        """Write the index now (in a worker thread). An OS error is logged (once until
        a write succeeds again): the old file stays, the next start re-reads what it
        does not cover, and the same state is not tried again (a share whose folder
        went away must not log it every few seconds)."""
        index = snapshot(self._sync, self.records, clean=clean, unstored=self.unstored())
        marker = self._marker()
        try:
            await trio.to_thread.run_sync(save_index, self.path, index)
        except OSError as exc:
            level = logging.DEBUG if self._failing else logging.ERROR
            log.log(level, "share %s: cannot write the index %s: %s", self._name, self.path,
                    exc.strerror)  # fmt: skip
            self._failing = True
            self._saved_marker = marker
            return
        self._failing = False
        self._saved_marker = marker
        if clean:
            with contextlib.suppress(OSError):  # left behind: the next start is not clean
                await trio.to_thread.run_sync(self._running.unlink)

    async def run(self) -> None:
        """Write the index while it changes (``save_wait_s`` apart), until cancelled."""
        wait_s = SAVE_INTERVAL_S
        while True:
            await trio.sleep(wait_s)
            if self._marker() != self._saved_marker:
                started = time.perf_counter()
                await self.save(clean=False)
                wait_s = save_wait_s(time.perf_counter() - started)

    def _marker(self) -> object:
        return self._sync.progress_marker(), self._recorded
