"""The logs of one share's loaded docs: each opened (recovering) with its doc loaded
and one ``LogWriter`` task, the file history kept beside it, storage failures and
recoveries reported, updates that crashed pycrdt quarantined, logs compacted when
due (docs/storage.md).

``DocLogs`` belongs to a ``ShareService``: it holds the share's replica and
residency with it, runs the writers in the share's writers' nursery and the
compactions among the share's own tasks. What a load means for the peers and the
mirror, and a doc's live state for a compaction, are the share's
(``loaded_over_record``, ``live_state``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from functools import partial
from pathlib import Path

import trio

from p2psync.config import ShareConfig
from p2psync.daemon.events import EventBus
from p2psync.daemon.residency import Residency
from p2psync.errors import StorageError, UsageError
from p2psync.mirror import binary
from p2psync.mirror.chunked import CHUNK_GUID, CONTENT
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import Quarantine
from p2psync.replica.share import ShareReplica
from p2psync.storage import DocLog, should_compact
from p2psync.storage.binarybudget import budget_of
from p2psync.storage.doclog import OpenResult
from p2psync.storage.history import DocHistory
from p2psync.storage.layout import log_path
from p2psync.storage.logrepair import Recovery
from p2psync.storage.quarantine import quarantine_updates
from p2psync.storage.retention import RetentionPolicy
from p2psync.storage.snapshotter import SnapshotWorker
from p2psync.storage.writer import LogWriter

log = logging.getLogger(__name__)

LoadedFn = Callable[[str, DocReplica, DocVersion], None]
"""Doc guid, the doc just loaded in place of its unloaded record, and the record."""
LiveStateFn = Callable[[str, list[bytes]], Awaitable[bytes]]
"""Doc guid and updates its log holds that the doc has not seen -> its whole state."""


@dataclass(eq=False)
class DocLogs:
    """The logs and writers of one share's loaded docs (see the module docstring)."""

    config: Callable[[], ShareConfig]
    replica: ShareReplica
    """The share's docs, which a log opened loads into."""
    residency: Residency
    events: EventBus
    _: KW_ONLY
    snapshots: SnapshotWorker | None
    """Builds the snapshots of large logs off the event loop (``storage.snapshotter``)."""
    loaded_over_record: LoadedFn
    live_state: LiveStateFn
    writers: dict[str, LogWriter] = field(default_factory=dict, init=False)
    """The writer of each loaded doc's log."""
    compacting: set[str] = field(default_factory=set, init=False)
    """Docs whose log is being compacted."""
    nursery: trio.Nursery | None = field(default=None, init=False)
    """Where the writer tasks run; it outlives the share's own tasks."""
    tasks: trio.Nursery | None = field(default=None, init=False)
    """The share's own tasks, where compactions run, while they run."""
    closed: bool = field(default=False, init=False)
    """Set once every writer was closed (the share stopped)."""
    creating: set[str] = field(default_factory=set, init=False)
    """New docs a group commit is making (``daemon.localwrites``): their logs are
    created and written outside any writer until the group is stored."""
    arriving: dict[str, trio.Event] = field(default_factory=dict, init=False)
    """New docs from peers waiting for their group to be stored (``daemon.arrivals``):
    loaded, with no log or writer yet; each event is set once its group is stored."""
    deferred: set[str] = field(default_factory=set, init=False)
    """Docs of ``creating`` whose log changed meanwhile: the change is looked at once
    the group is stored. Most are the daemon's own writes, which the log watcher
    echoes."""

    @property
    def _name(self) -> str:
        return str(self.config().id)

    @property
    def _root(self) -> Path:
        return self.config().path

    async def close(self) -> None:
        """Close every writer (each finishes its queue, and the writers' nursery then
        ends with them); no log opens after."""
        self.closed = True
        for writer in list(self.writers.values()):
            await writer.aclose()

    def start_writer(self, writer: LogWriter) -> None:
        """Run the writer of a log opened and attached meanwhile (``attach``)."""
        assert self.nursery is not None
        self.nursery.start_soon(self._run_writer, writer)

    async def open(self, guid: str, *, replace: bool = False) -> LogWriter:
        """Open (recovering) the log of ``guid``, load the doc, start its writer.

        A doc the engine already holds keeps its unstored changes and gains the log's
        content, unless ``replace`` (a reload after pycrdt poisoned it) discards it.
        """
        await self.arrived(guid)
        if not replace and (stored := self.writers.get(guid)) is not None:
            return stored  # its group attached it
        self.check_writable()
        assert self.nursery is not None
        path = log_path(self._root, guid)
        self._make_docs_folder(path.parent)
        # Shielded (a read that threads cannot cut short anyway): from a peer's link
        # task being cancelled (its link replaced or dropped) the opened log would
        # leak, or the writer task die with the link while staying registered, and
        # every later write to the doc fail (BrokenResourceError).
        with trio.CancelScope(shield=True):
            if path.exists():
                opened = await trio.to_thread.run_sync(DocLog.open, path)
            else:  # a new log: a few system calls and no fsync, cheaper than a thread hop
                opened = DocLog.open(path)
            loaded = self.writers.get(guid)
            if loaded is not None and not replace:
                # Loaded meanwhile (the mirror's read, another caller): one writer per
                # log. A second would append to the file too, and outlive the share.
                opened.log.close()
                return loaded
            writer = self.attach(guid, opened, replace=replace)
            await self.nursery.start(self._run_writer, writer)
        return writer

    async def arrived(self, guid: str) -> None:
        """Return once doc ``guid`` waits for no group of new docs (``arriving``)."""
        while (stored := self.arriving.get(guid)) is not None:
            await stored.wait()

    def unstored(self) -> set[str]:
        """The loaded docs whose changes may not be durable yet: those waiting for
        their group, and those whose writer has requests not done."""
        busy = {guid for guid, writer in self.writers.items() if not writer.idle}
        return busy.union(self.arriving)

    def _make_docs_folder(self, folder: Path) -> None:
        """Create the share's docs folder if need be, but never again a ``.p2psync``
        marker that went away once the share held docs: the share's mirror stops a share
        whose folder was deleted or moved, and a log opened meanwhile (an unloaded doc
        whose log vanished with it) must not make the folder look present again.
        StorageError then."""
        try:
            folder.mkdir(exist_ok=True)
        except FileNotFoundError:
            if len(self.replica):
                raise StorageError(folder, "the share's .p2psync folder is gone") from None
            folder.mkdir(parents=True, exist_ok=True)

    def load_now(self, guid: str) -> LogWriter:
        """Load the unloaded doc ``guid`` at once, blocking on its log (for callers
        that cannot wait, such as the mirror's reads); its writer starts soon."""
        self.check_writable()
        assert self.nursery is not None
        opened = DocLog.open(log_path(self._root, guid))
        writer = self.attach(guid, opened, replace=False)
        self.nursery.start_soon(self._run_writer, writer)
        return writer

    def check_writable(self) -> None:
        """UsageError once the share stopped and its logs are closed."""
        if self.closed:
            raise UsageError(f"share {self._name} has stopped: its logs are closed")

    async def _run_writer(
        self, writer: LogWriter, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        try:
            await writer.run(task_status=task_status)
        finally:
            writer.log.close()

    def publish_recovery(self, guid: str, recovery: Recovery) -> None:
        """A ``log-recovered`` event: what opening the log of ``guid`` repaired."""
        self.events.publish(
            "log-recovered",
            share=self._name,
            doc=guid,
            torn_bytes=recovery.torn_bytes,
            corruption=str(recovery.corruption or ""),
            quarantined_to=str(recovery.quarantined_to or ""),
        )

    def attach(self, guid: str, opened: OpenResult, *, replace: bool) -> LogWriter:
        """Hold the doc of a freshly opened log and build its writer. A doc loaded in
        place of its unloaded record goes to ``loaded_over_record``: if it holds more
        than the record (another process appended meanwhile) it counts as changed, and
        the rest is sent to every peer."""
        if opened.recovery is not None:
            self.publish_recovery(guid, opened.recovery)
        replica = self.replica
        held = replica.get(guid)
        recorded = None if held is not None else replica.version(guid)
        if held is None or replace:
            loaded = DocReplica(guid, opened.updates)
            if replica.replace(loaded) and recorded is not None:
                self.loaded_over_record(guid, loaded, recorded)
        else:  # the engine created it from a peer's message before its log was open
            for update in opened.updates:
                held.apply(update)
        history = self._history_of(guid, opened, replica.get(guid))
        writer = LogWriter(opened.log, on_error=self.storage_failed(guid),
                           snapshots=self.snapshots, history=history)  # fmt: skip
        self.writers[guid] = writer
        self.residency.touch(guid)
        log.debug("share %s: doc %s loaded", self._name, guid)
        return writer

    def _history_of(
        self, guid: str, opened: OpenResult, doc: DocReplica | None
    ) -> DocHistory | None:
        """The timeline kept beside the log of ``guid``: for the docs that may be a
        one-doc text file (not the manifest, not a chunk of a chunked file), a
        binary file (held to ``max_bytes`` from the start if ``doc`` holds one) or an
        app doc."""
        if guid == MANIFEST_GUID or CHUNK_GUID.fullmatch(guid):
            return None
        setting = self.config().history
        policy = RetentionPolicy(setting.keep, setting.max_age_days, setting.max_bytes)
        held = (
            doc is not None
            and binary.VERSIONS in doc.ydoc.keys()  # noqa: SIM118 - Doc is not typed as a container
            and binary.current(doc.ydoc) is not None
        )
        budget = budget_of(opened.log.path.parent).capped(setting.max_bytes)
        return DocHistory(opened.log.path, CONTENT, policy, binary=held, budget=budget)

    async def writer(self, guid: str) -> LogWriter:
        """The writer of doc ``guid``'s log, loading the doc if it is not."""
        writer = self.writers.get(guid)
        if writer is not None:
            self.residency.touch(guid)
            return writer
        return await self.open(guid)

    def storage_failed(self, guid: str) -> Callable[[BaseException], None]:
        """What reports a failure to store doc ``guid`` (an ``error`` event)."""

        def report(error: BaseException) -> None:
            self.events.publish("error", share=self._name, doc=guid, message=str(error))

        return report

    async def quarantine(self, effect: Quarantine) -> Path | None:
        """Keep updates that crashed pycrdt aside (storage.quarantine) and say so;
        returns where they are kept (None if they could not be)."""
        try:
            kept = await trio.to_thread.run_sync(
                quarantine_updates, self._root, effect.guid, effect.updates, effect.reason
            )
        except OSError as exc:
            log.error("share %s: cannot quarantine an update of %s: %s",
                      self._name, effect.guid, exc)  # fmt: skip
            return None
        log.error("share %s: %s; kept at %s, doc reloaded from its log", self._name,
                  effect.reason, kept or "(quarantine full)")  # fmt: skip
        self.events.publish("error", share=self._name, doc=effect.guid, message=effect.reason)
        return kept

    def maybe_compact(self, guid: str, writer: LogWriter) -> None:
        """Compact the log of ``guid`` among the share's tasks if it is due."""
        if self.tasks is None or guid in self.compacting or not should_compact(writer.log.stats):
            return  # (no compaction starts while the share stops)
        self.compacting.add(guid)
        self.tasks.start_soon(self._compact, guid, writer)

    async def compact_all(self) -> int:
        """Compact every loaded doc's log now, one after another; logs already being
        compacted are skipped. Returns how many were compacted."""
        count = 0
        for guid, writer in list(self.writers.items()):
            if guid in self.compacting:
                continue
            self.compacting.add(guid)
            await self._compact(guid, writer)
            count += 1
        return count

    async def _compact(self, guid: str, writer: LogWriter) -> None:
        try:
            await writer.compact(partial(self.live_state, guid))
        except StorageError as exc:
            log.error("share %s: compaction of %s failed: %s", self._name, guid, exc)
        finally:
            self.compacting.discard(guid)
