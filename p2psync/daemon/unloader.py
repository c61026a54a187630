"""Docs leave memory when idle, and the index is written as the share stops
(docs/architecture.md, *Memory: lazy docs and large docs*).

``Unloader`` unloads a doc idle for ``[docs] idle_unload_s`` once its log holds all of
it, recording its version for the persisted index (``daemon.indexkeeper``); on the
way out it records every loaded doc its log holds and writes the index. It works on
its share's writers, replica and residency, which it shares with ``ShareService``.
A doc whose file the mirror has just written from it while a crowd is loaded (a
first sync's new files) is released: it leaves memory at once, with the same checks,
idle or not. Once a crowd
of docs has left memory (a first sync), what they freed is handed back to the system
(``daemon.memtrim``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import trio

from p2psync.daemon.indexkeeper import IndexKeeper
from p2psync.daemon.memtrim import give_back_memory
from p2psync.daemon.newdocs import LogStat
from p2psync.daemon.residency import Residency
from p2psync.replica.doc import DocReplica
from p2psync.replica.share import ShareReplica
from p2psync.storage.indexstore import DocRecord
from p2psync.storage.writer import LogWriter

log = logging.getLogger(__name__)

TRIM_AFTER_DOCS = 64
"""How many docs must have left memory since the last trim for the next one."""
TRIM_AFTER_BYTES = 1024 * 1024
"""Or how many bytes of their logs: one large doc is enough (a 10,000-file share's
manifest, 2.5 MB of log, held 34 MiB in memory that stayed with the allocator)."""
UNLOAD_BATCH = 256
"""Idle docs unloaded between two yields to the event loop. An idle doc's unload waits
on nothing; with two yields per doc (a flush and the writer's close) each unload waited
for every other task's turn, and after a 10,000-file first sync, with the bench polling
status every 100 ms on a loaded machine, more than 8 docs were still loaded 300 s
after idle."""


@dataclass(eq=False)
class Unloader:
    """Idle unloading and the index on stop, for one share. It shares ``writers``,
    ``replica``, ``residency`` and the rest with its ``ShareService``: an unloaded
    doc's writer is removed from ``writers`` here."""

    name: str
    replica: ShareReplica
    writers: dict[str, LogWriter]
    compacting: set[str]
    """Docs whose log is being compacted: not unloaded meanwhile."""
    residency: Residency
    index: IndexKeeper
    app_docs: Counter[str]
    """Docs app clients have open: they stay in memory."""
    unloaded_since_trim: int = field(default=0, init=False)
    unloaded_bytes_since_trim: int = field(default=0, init=False)
    """The log bytes of the docs counted in ``unloaded_since_trim``."""
    released: set[str] = field(default_factory=set, init=False)
    """Docs whose files the mirror wrote (``release``), to unload at the next step."""
    on_unloaded: Callable[[], None] | None = field(default=None, init=False)
    """Called after a step that unloaded docs (the share may ask peers again,
    ``ShareService``)."""
    _wake: trio.Event = field(default_factory=trio.Event, init=False)

    async def run(self) -> None:
        """Unload docs idle for ``residency.idle_s``, and docs released, until
        cancelled."""
        due = trio.current_time() + self.residency.check_interval_s
        while True:
            with trio.move_on_at(due):
                await self._wake.wait()
            self._wake = trio.Event()
            if self.released:
                await self.unload_released()
            if trio.current_time() >= due:
                await self.unload_idle()
                due = trio.current_time() + self.residency.check_interval_s

    def release(self, guids: Iterable[str]) -> None:
        """The mirror wrote the files of docs ``guids`` as their docs are now (new
        files from peers, ``mirror.newwrites``): nothing else waits for those docs. In
        a crowd (a first sync) each leaves memory at the unloader's next step instead
        of after its grace, if its log holds all of it by then (``unload_released``);
        otherwise the everyday grace holds (a peer typing into the new file it just
        made would load it again at its next keystroke). Never blocks."""
        done = list(guids)
        self.residency.mirrored(done)
        if self.residency.crowded:
            self.released.update(done)
            self._wake.set()

    async def unload_released(self) -> None:
        """Unload the docs ``release``-d since the last call, idle or not, each as
        ``unload_idle`` would: only once its writer has nothing unfinished and its log,
        stat-ed just before, ends where the writer's does (its index record); not the
        manifest, a doc being compacted, open in an app client or changed meanwhile."""
        guids = [g for g in self.released if g in self.writers and not self.residency.is_kept(g)]
        self.released.clear()
        await self._unload_all(guids, idle=False)

    async def unload_idle(self) -> None:
        """Unload every doc idle now; once a crowd or a large doc is gone
        (``TRIM_AFTER_DOCS`` or ``TRIM_AFTER_BYTES`` unloaded since the last trim and
        no longer crowded), hand the memory back."""
        await self._unload_all(self.residency.idle(list(self.writers)), idle=True)
        enough = (
            self.unloaded_since_trim >= TRIM_AFTER_DOCS
            or self.unloaded_bytes_since_trim >= TRIM_AFTER_BYTES
        )
        if enough and not self.residency.crowded:
            self.unloaded_since_trim = self.unloaded_bytes_since_trim = 0
            await trio.to_thread.run_sync(give_back_memory)

    async def _unload_all(self, guids: list[str], *, idle: bool) -> None:
        """``_unload`` each doc of ``guids``, their logs stat-ed in one thread hop."""
        logs = {guid: self.writers[guid].log.path for guid in guids}
        stats = await trio.to_thread.run_sync(_stat_logs, logs)  # one hop, not a stat each
        unloaded = 0
        for n, guid in enumerate(guids, 1):
            if await self._unload(guid, stats.get(guid), idle=idle):
                unloaded += 1
            if n % UNLOAD_BATCH == 0:
                await trio.lowlevel.checkpoint()
        self.unloaded_since_trim += unloaded
        if unloaded and self.on_unloaded is not None:
            self.on_unloaded()

    async def _unload(self, guid: str, stat: LogStat | None, *, idle: bool) -> bool:
        """Drop doc ``guid`` from memory once everything it holds is in its log (as
        ``stat``, its log's stat taken just before, says), and record its version with
        that size and mtime for the persisted index. Skipped if it changes meanwhile,
        is being compacted, another process appended to its log (the watcher brings
        that first), or (``idle``) it was used within its grace. True if it was
        dropped."""
        writer = self.writers.get(guid)
        if writer is None or guid in self.compacting:
            return False
        sequence = self.replica.sequence_of(guid)
        if not writer.idle:
            await writer.flush()
        doc = self._unchanged(guid, writer, sequence)
        if doc is None or (idle and not self.residency.is_idle(guid)) or not writer.idle:
            return False
        record = _record_of(guid, doc, writer, sequence, stat)
        if record is None:  # a stat taken before its last write, or another process's
            return False  # append: not this round
        self._drop(guid, record, writer)
        log.debug("share %s: doc %s unloaded (%s)", self.name, guid,
                  "idle" if idle else "released")  # fmt: skip
        return True

    def unload_new(self, guid: str, writer: LogWriter, sequence: int, stat: LogStat) -> bool:
        """Drop new doc ``guid`` from memory as soon as a group commit stored it
        (``daemon.newdocs``), its writer never started: a first scan keeps no doc
        per file. Only if nothing touched it since its first update was made (its
        change ``sequence``; no request handed to its writer, no history left
        unsaved, no app client) and its log, as ``stat``-ed after the commit, ends
        where the writer's does. Its log is then the caller's to close. True if it
        was dropped."""
        doc = self._unchanged(guid, writer, sequence)
        if doc is None or not writer.untouched or stat.size != writer.log.end:
            return False
        self._drop(guid, _record(guid, doc, writer, sequence, stat), writer)
        self.unloaded_since_trim += 1
        return True

    def _unchanged(self, guid: str, writer: LogWriter, sequence: int) -> DocReplica | None:
        """The loaded doc ``guid`` if it may leave memory as far as the share knows:
        still driven by ``writer``, not changed since ``sequence``, not poisoned, not
        being compacted, not open in an app client. None otherwise."""
        doc = self.replica.get(guid)
        if (
            self.writers.get(guid) is not writer
            or doc is None
            or doc.poisoned
            or guid in self.compacting
            or self.replica.sequence_of(guid) != sequence
            or guid in self.app_docs
        ):
            return None
        return doc

    def _drop(self, guid: str, record: DocRecord, writer: LogWriter) -> None:
        self.index.record(guid, record)
        self.unloaded_bytes_since_trim += record.log_size
        del self.writers[guid]
        self.replica.unload(guid)
        self.residency.forget(guid)
        writer.close()

    async def save_index_on_stop(self) -> None:
        """Record every loaded doc whose log holds all of it and write the index; it is
        clean only if nothing queued was left behind."""
        clean = True
        for guid, writer in self.writers.items():
            doc = self.replica.get(guid)
            record = None
            if doc is not None and not doc.poisoned and writer.idle:
                sequence, stat = self.replica.sequence_of(guid), _stat_log(writer.log.path)
                record = _record_of(guid, doc, writer, sequence, stat)
            if record is None:
                clean = False
            else:
                self.index.record(guid, record)
        await self.index.save(clean=clean)


def _stat_logs(logs: dict[str, Path]) -> dict[str, LogStat]:
    """The stat of each log of ``logs`` (guid -> path) that can be stat-ed. Blocking."""
    stats = {guid: _stat_log(path) for guid, path in logs.items()}
    return {guid: stat for guid, stat in stats.items() if stat is not None}


def _stat_log(path: Path) -> LogStat | None:
    """The log's size and mtime, None if it cannot be stat-ed. Blocking."""
    try:
        st = path.stat()
    except OSError:
        return None
    return LogStat(st.st_size, st.st_mtime_ns)


def _record_of(
    guid: str, doc: DocReplica, writer: LogWriter, sequence: int, stat: LogStat | None
) -> DocRecord | None:
    """The index record of a loaded doc whose log holds exactly what it holds, as
    ``stat`` (its log's, taken after its last write) says; None if the log holds
    more, or could not be stat-ed."""
    if stat is None or stat.size != writer.log.end:
        return None
    return _record(guid, doc, writer, sequence, stat)


def _record(
    guid: str, doc: DocReplica, writer: LogWriter, sequence: int, stat: LogStat
) -> DocRecord:
    version = doc.version()
    return DocRecord(sequence, version.state_vector, version.delete_digest, stat.size,
                     stat.mtime_ns, writer.log.path.name)  # fmt: skip
