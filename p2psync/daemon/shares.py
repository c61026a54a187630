"""One share at run time: its doc logs, their writer tasks, its sync engine, its mirror.

A ShareService starts from the share's persisted index (``daemon.indexkeeper``),
loads a doc only while used (its ``DocLogs``: one LogWriter task per loaded doc,
``daemon.doclogs``), unloads idle ones (``daemon.unloader``, ``daemon.residency``,
docs/architecture.md), keeps its files' history (``daemon.sharehistory``), feeds the
sync engine with what happens and carries out the engine's effects. It is the façade
of its collaborators, one job each: a member's message taken in
(``daemon.sharereceive``; a peer's question about an unloaded doc is answered from
its log, ``daemon.logreplies``), local changes stored (``daemon.localwrites``),
records other processes appended to a log (``daemon.logappends``), the engine's
effects carried out (``daemon.shareeffects``: updates queued for durable storage,
messages handed to the peer layer), calls from outside counted and refused once it
stops (``daemon.sharecalls``). Updates from peers are forwarded without waiting for
our own fsync (the sender still holds them); a local change is acknowledged only once
durable. Every change to a doc that did not come from the plain-file mirror
(``daemon.mirror``) is reported to it, so it writes the file back.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Mapping, Set
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

import trio

from p2psync.config import ShareConfig
from p2psync.daemon.arrivals import Arrivals
from p2psync.daemon.doclogs import DocLogs
from p2psync.daemon.events import EventBus
from p2psync.daemon.filehistory import record_deletions
from p2psync.daemon.indexkeeper import IndexKeeper
from p2psync.daemon.localwrites import LocalWrites
from p2psync.daemon.logappends import LogAppends
from p2psync.daemon.logreplies import LogAnswers
from p2psync.daemon.mirror import MirrorService
from p2psync.daemon.residency import DEFAULT_IDLE_UNLOAD_S, MIRROR_BACKLOG, Residency
from p2psync.daemon.sharecalls import CallGate
from p2psync.daemon.shareeffects import (
    AppUpdatesFn,
    DisconnectFn,
    RoomFn,
    SendFn,
    ShareEffects,
)
from p2psync.daemon.sharehistory import ShareHistory
from p2psync.daemon.sharereceive import receive
from p2psync.daemon.unloader import Unloader
from p2psync.errors import InvalidIdError, UsageError
from p2psync.ids import DeviceId
from p2psync.mirror.chunked import CONTENT
from p2psync.mirror.chunkexport import chunked_export
from p2psync.mirror.chunkfile import Chunking
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.protocol.messages import SyncMessage
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import Effect
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync
from p2psync.storage.compaction import YDoc
from p2psync.storage.layout import docs_dir, guid_of_log, log_path
from p2psync.storage.snapshotter import SnapshotWorker

log = logging.getLogger(__name__)

Peer = Hashable


class ShareService:
    """Runs one share. Start with ``await nursery.start(service.run)``."""

    def __init__(
        self,
        config: ShareConfig,
        events: EventBus,
        *,
        send: SendFn,
        disconnect: DisconnectFn,
        room: RoomFn | None = None,
        snapshots: SnapshotWorker | None = None,
        device: bytes = b"?",
        device_id: str = "?",
        mirror: bool = True,
        idle_unload_s: float = DEFAULT_IDLE_UNLOAD_S,
        chunking: Chunking | None = None,
    ) -> None:
        self.config = config
        self.events = events
        self.device_id = device_id
        """This device's ID as versions of the file history name it."""
        self.sync = ShareSync(ShareReplica(config.id.raw))
        self.index = IndexKeeper(config.path, self.sync, self.name)
        self.residency = Residency(idle_unload_s, trio.current_time, kept=[MANIFEST_GUID])
        self.effects = ShareEffects(self, send=send, disconnect=disconnect, room=room)
        """Carries out the engine's effects; tells the mirror and app clients of changes."""
        self.appends = LogAppends(
            self, send=send, changed=self.effects.changed, to_apps=self.effects.to_apps
        )
        """What other processes append to the share's logs."""
        self.logs = DocLogs(
            lambda: self.config, self.sync.replica, self.residency, events,
            snapshots=snapshots, loaded_over_record=self.appends.loaded_over_record,
            live_state=self.appends.live_state,
        )  # fmt: skip
        """The logs and writers of the loaded docs."""
        self.index.unstored = self.logs.unstored  # a crash asks for them again
        self.arrivals = Arrivals(self)
        """New docs from peers, stored as groups."""
        self.answers = LogAnswers(self)
        """Peers' questions about unloaded docs, answered from their logs in batches."""
        self.sync.sizes = partial(log_size, self)  # what the index announces to peers
        self._writes = LocalWrites(self)
        self._stop_asked = trio.Event()
        self._finished = trio.Event()
        self._gate = CallGate(self.name)
        self.stopped: str | None = None
        """Why the share stopped (its folder lost its marker, or was missing or without
        it at the start: ``hold``), None while it runs."""
        self._held = False
        self.folder_lock: int | None = None
        """The share folder's lock (``storage.folderlock``), held while ``run`` runs
        and released when it ends."""
        self.removed_by: Set[Peer] = frozenset()
        """Members that removed this device from the share (``MembershipService`` owns
        the set): nothing of the share is exchanged with them (``peer_up``)."""
        self.failing_docs: dict[str, str] = {}
        """Doc guid -> why a peer's update of it could not be applied (it crashed the
        CRDT engine and was quarantined): the doc is not in sync with that peer. Listed
        in ``not_in_sync`` until the share restarts, which takes the update again."""
        self.on_app_updates: AppUpdatesFn | None = None
        """Told of every change of a doc (``apps.server.AppServer.doc_updated``)."""
        self.app_docs: Counter[str] = Counter()
        """Docs app clients have open (``daemon.apps``): they stay in memory."""
        self.history = ShareHistory(self)
        """The file history of the share's text files (docs/history.md)."""
        self._unloader = Unloader(
            self.name, self.sync.replica, self.logs.writers, self.logs.compacting,
            self.residency, self.index, self.app_docs,
        )  # fmt: skip
        self.mirror: MirrorService | None = None
        if mirror:
            self.sync.urgent = frozenset({MANIFEST_GUID})  # no file is written without it
            self.mirror = MirrorService(config.path, self, events, device=device,
                                        share=self.name, on_stopped=self._stop,
                                        chunking=chunking or Chunking())  # fmt: skip
            self.mirror.on_deletions = partial(record_deletions, self.history)
            self.mirror.on_start = self.history.catch_up
            self.mirror.on_mirrored = self._mirrored
            self.sync.hold_asks = self._mirror_behind
            self._unloader.on_unloaded = self._resume_asks

    @property
    def root(self) -> Path:
        return self.config.path

    @property
    def unloader(self) -> Unloader:
        return self._unloader

    @property
    def name(self) -> str:
        return str(self.config.id)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start from the persisted index (reading only the logs it does not cover),
        serve until ``aclose`` (or until cancelled); the index is written once more on
        the way out (shielded). A share ``hold`` stopped before it started touches
        nothing of its folder: it only waits for ``aclose``."""
        if self._held:
            try:
                task_status.started()
                await self._stop_asked.wait()
            finally:
                self._finished.set()
            return
        started = False
        try:
            docs_dir(self.root).mkdir(parents=True, exist_ok=True)
            async with trio.open_nursery() as writers:
                self.logs.nursery = writers
                plan = await self.index.start(_parse_peer)
                started = True
                for read in await self.index.reread(plan.reread):
                    if read.recovery is not None:
                        self.logs.publish_recovery(read.guid, read.recovery)
                log.info("share %s: %d docs, %d loaded, in %s", self.name, len(self.sync.replica),
                         len(self.logs.writers), self.root)  # fmt: skip
                async with trio.open_nursery() as tasks:
                    self.logs.tasks = tasks
                    tasks.start_soon(self.index.run)
                    tasks.start_soon(self._unloader.run)
                    tasks.start_soon(self.arrivals.run)
                    tasks.start_soon(self.answers.run)
                    if self.mirror is not None:
                        await tasks.start(self.mirror.run)
                    task_status.started()
                    await self._stop_asked.wait()
                    tasks.cancel_scope.cancel()
                self.logs.tasks = None
                # Calls from outside are refused, those in flight end, then every writer
                # closes (each finishes its queue; the writers' nursery ends with them).
                await self._gate.close()
                await self.logs.close()
        finally:
            try:
                if started:
                    with trio.CancelScope(shield=True):
                        await self._unloader.save_index_on_stop()
                        if self.mirror is not None:
                            await self.mirror.save_for_next_start()
            finally:
                self._release_folder()
                self._finished.set()

    def _release_folder(self) -> None:
        """Let go of the share folder's lock, if held: another start may take it."""
        if self.folder_lock is not None:
            os.close(self.folder_lock)
            self.folder_lock = None

    async def aclose(self) -> None:
        """Stop in order (``share remove``, daemon shutdown) and return once ``run``
        has: the share's own tasks end first, then the calls from outside in flight
        (later ones are refused), then every writer finishes its queue. Nothing the
        share runs is left using a closed log."""
        self._stop_asked.set()
        await self._finished.wait()

    def call(self) -> AbstractContextManager[None]:
        """One call from outside the share's own tasks (a peer's message, the log
        watcher, a control request); refused with UsageError once the share stops,
        and with why when it is ``hold`` stopped."""
        if self._held:
            raise UsageError(self.stopped or "")
        return self._gate.call()

    def hold(self, reason: str) -> None:
        """Keep the share stopped from the start, for ``reason`` (its folder is missing
        or lost its marker, ``daemon.sharefolders``): ``run`` reads and writes nothing,
        calls are refused and peers are not told of it. Call before ``run``."""
        self._held = True
        self.stopped = reason

    def _stop(self, reason: str) -> None:
        """Stop taking part (the folder lost its marker): peers' messages are dropped."""
        self.stopped = reason
        for peer in self.sync.peers():
            self.sync.peer_down(peer)

    # -- inputs ------------------------------------------------------------------

    def peer_up(self, peer: Peer) -> list[Effect]:
        if self._held or peer in self.removed_by:  # held: its index was never read
            return []
        return self.sync.peer_up(peer)

    def peer_down(self, peer: Peer) -> None:
        self.sync.peer_down(peer)

    async def receive(self, peer: Peer, message: SyncMessage) -> None:
        """A message from a member (``daemon.sharereceive``); dropped once the share
        stopped."""
        if self.stopped or self._gate.refusing:
            return
        with self.call():
            await receive(self, peer, message)

    # -- the mirror's view of the share (mirror.engine.DocStore) ------------------

    def doc(self, guid: str) -> DocReplica | None:
        """The doc ``guid``, loaded now if it was not (None if the share has none)."""
        held = self.sync.replica.get(guid)
        if held is None and guid in self.sync.replica:
            made = self._writes.made_doc(guid)  # a new file's, unloaded as it was stored
            if made is not None:
                return made
        if held is None and guid in self.sync.replica and not self.logs.closed:
            self.logs.load_now(guid)
            held = self.sync.replica.get(guid)
        if held is not None:
            self.residency.touch(guid)
        return held

    def holds(self, guid: str) -> bool:
        """Whether the share has doc ``guid`` (loaded or not)."""
        return guid in self.sync.replica

    def version(self, guid: str) -> DocVersion | None:
        """The version of doc ``guid``, loaded or not (None if the share has none)."""
        return self.sync.replica.version(guid)

    def guids(self) -> list[str]:
        return list(self.sync.replica.guids())

    def guid_for_path(self, rel: str) -> str:
        """The doc of the file at share path ``rel`` (through the manifest)."""
        return self.mirror.guid_for_path(rel) if self.mirror is not None else rel

    async def durable(self, guid: str) -> None:
        """Return once what is queued for doc ``guid``'s log is durable."""
        await self.effects.durable(guid)

    def _mirror_behind(self) -> bool:
        """Whether the mirror is so far behind the docs peers sent (``MIRROR_BACKLOG``
        of them loaded, waiting for their files) that no more are asked for."""
        return self.residency.unmirrored_count >= MIRROR_BACKLOG

    def _mirrored(self, guids: list[str]) -> None:
        """The mirror took the changes of docs ``guids``: the questions held while it
        was behind may go."""
        self.residency.mirrored(guids)
        self._resume_asks()

    def _resume_asks(self) -> None:
        """Send the questions to peers that waited for the mirror, once it is no longer
        behind (after a mirror batch, and after docs left memory)."""
        if not self._mirror_behind():
            self.effects.ask(self.sync.resume_asks())

    def written(self, guids: Collection[str]) -> None:
        """The mirror wrote the files of docs ``guids`` as they are (a first sync's new
        files): they leave memory at once, if their logs hold them whole
        (``Unloader.release``)."""
        self._unloader.release(guids)

    async def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> None:
        """Change doc ``guid`` in place as a local change (the mirror's saves); returns
        once it is durable. Not reported back to the mirror."""
        await self._writes.local_edit(guid, edit)

    async def create_docs(self, edits: Mapping[str, Callable[[YDoc], None]]) -> dict[str, str]:
        """New docs made by local edits, stored as one group (the mirror's new files,
        ``daemon.newdocs``): as ``local_edit`` each, but their logs are created in one
        thread hop and their first updates stored by one group commit. Returns once
        every one is durable, with the guids that could not be stored and why."""
        return await self._writes.create_docs(edits)

    async def local_update(
        self, guid: str, update: bytes, *, notify: bool = True, kind: str = "local save"
    ) -> None:
        """Apply a local change; returns once it is durable. Raises UpdateError for
        bytes that are not a Yjs v1 update, LogWriteError if it cannot be stored.
        ``notify`` (not for the mirror's own updates) tells the mirror; ``kind`` is
        what the file history calls the change."""
        if self.stopped:
            raise UsageError(self.stopped)
        with self.call():
            await self._writes.local_update(guid, update, notify=notify, kind=kind)

    async def app_update(self, guid: str, update: bytes, origin: object) -> bool:
        """An app client's update (docs/apps.md), checked exactly as a peer's, stored
        durably, sent to peers and the other app clients, and written to the file.
        Returns once durable; False if it depends on changes the doc lacks (nothing
        applied). Raises UpdateError for a malformed update (nothing applied)."""
        if self.stopped:
            raise UsageError(self.stopped)
        with self.call():
            return await self._writes.app_update(guid, update, origin)

    async def log_changed(self, path: Path) -> None:
        """A filesystem event on a log file: apply what other processes appended
        (ignored once the share has stopped)."""
        guid = guid_of_log(path)
        if guid is None or path.parent != docs_dir(self.root) or self._gate.refusing:
            return
        with self.call():
            await self.appends.log_changed(guid, path)

    def flush_index(self) -> list[Effect]:
        return self.sync.flush_index()

    # -- effects -----------------------------------------------------------------

    async def execute(self, effects: list[Effect], *, peer: Peer | None = None) -> None:
        """Carry out the engine's effects in order (``daemon.shareeffects``); ``peer``
        sent the message they answer."""
        await self.effects.execute(effects, peer=peer)

    async def compact_now(self) -> int:
        """Compact every doc's log now (``p2psync compact``), one after another; logs
        already being compacted are skipped. Returns how many were compacted."""
        with self.call():
            return await self.logs.compact_all()

    # -- docs' state -------------------------------------------------------------

    def doc_state(self, guid: str) -> bytes | None:
        """The full state of doc ``guid`` as one Yjs v1 update, or None if unknown: what
        its log is to hold (a compaction's snapshot, a lost log written again), a
        chunked file's root included (its chunk list)."""
        doc = self.doc(guid)
        return doc.full_state() if doc is not None else None

    def export_state(self, guid: str) -> bytes | None:
        """What ``doc export`` gives of doc ``guid``: its full state, but for a chunked
        file's root its text as one text doc (``mirror.chunkexport``), a doc of its
        own that is never stored as the root's."""
        doc = self.doc(guid)
        if doc is not None and self.is_chunked(guid):
            return chunked_export(doc.ydoc, guid, partial(_chunk_text, self))
        return doc.full_state() if doc is not None else None

    def is_chunked(self, guid: str) -> bool:
        """Whether ``guid`` is the root doc of a chunked file (by the manifest)."""
        return self.kind(guid) is FileKind.CHUNKED

    def kind(self, guid: str) -> FileKind | None:
        """The kind of the file of doc ``guid`` by the manifest (None if it has no
        entry: a doc named by a path the mirror has not taken in yet)."""
        entry = self.mirror.mirror.view.by_guid.get(guid) if self.mirror is not None else None
        return entry.kind if entry is not None else None


def _chunk_text(share: ShareService, guid: str) -> str:
    """The text of chunk doc ``guid`` of ``share`` ("" if it has none)."""
    doc = share.doc(guid)
    return doc.text(CONTENT) if doc is not None else ""


def _parse_peer(key: str) -> Peer | None:
    try:
        return DeviceId.parse(key)
    except InvalidIdError:
        return None


def log_size(share: ShareService, guid: str) -> int | None:
    """The bytes of doc ``guid``'s log (None: it has none), the size of the doc the
    index announces for the peers' progress displays (docs/protocol.md §3): about the
    whole state a peer that lacks the doc is sent, a log compacting as it grows."""
    writer = share.logs.writers.get(guid)
    if writer is not None:
        return writer.log.end
    record = share.index.records.get(guid)
    if record is not None:  # as it was unloaded: no stat of each log an index lists
        return record.log_size
    try:
        return log_path(share.root, guid).stat().st_size
    except OSError:
        return None
