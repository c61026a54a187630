"""One share at run time: its doc logs, their writer tasks, its sync engine, its mirror.

A ShareService starts from the share's persisted index (``daemon.indexkeeper``),
loads a doc only while used (its ``DocLogs``: one LogWriter task per loaded doc,
``daemon.doclogs``), unloads idle ones (``daemon.unloader``, ``daemon.residency``,
docs/architecture.md), keeps its files' history (``daemon.sharehistory``), feeds the
sync engine with what happens
(peer messages, local changes, records other processes appended to a log:
``daemon.logappends``; a peer's question about an unloaded doc is answered from its
log, ``daemon.logreplies``) and
carries out the engine's effects: updates are queued for durable storage, messages
handed to the peer layer. Updates from peers are forwarded without waiting for our
own fsync (the sender still holds them); a local change is acknowledged only once
durable. Every change to a doc that did not come from the plain-file mirror
(``daemon.mirror``) is reported to it, so it writes the file back.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Protocol

import trio

from p2psync.config import ShareConfig
from p2psync.daemon.doclogs import DocLogs
from p2psync.daemon.events import EventBus
from p2psync.daemon.filehistory import record_deletions
from p2psync.daemon.indexkeeper import IndexKeeper
from p2psync.daemon.logappends import LogAppends
from p2psync.daemon.logreplies import answer_from_log
from p2psync.daemon.mirror import MirrorService
from p2psync.daemon.newdocs import NewDoc, open_new_logs, store_first_updates
from p2psync.daemon.residency import DEFAULT_IDLE_UNLOAD_S, Residency
from p2psync.daemon.sharehistory import ShareHistory
from p2psync.daemon.unloader import Unloader
from p2psync.errors import InvalidIdError, UpdateError, UsageError
from p2psync.ids import DeviceId
from p2psync.mirror.chunked import CONTENT
from p2psync.mirror.chunkexport import chunked_export
from p2psync.mirror.chunkfile import Chunking
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.protocol.messages import DocError, SyncMessage, SyncStep1, SyncStep2
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica, check_local_update
from p2psync.replica.effects import Disconnect, Effect, Persist, Quarantine, Reload, Send, Tell
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync
from p2psync.storage.compaction import YDoc
from p2psync.storage.layout import docs_dir, guid_of_log, log_path
from p2psync.storage.snapshotter import SnapshotWorker

log = logging.getLogger(__name__)

Peer = Hashable
EFFECTS_GRACE_S = 10.0
"""How long the effects of a peer's message may outlive the cancellation of its link."""
SendFn = Callable[[Peer, SyncMessage | DocError], None]
AppUpdatesFn = Callable[[str, list[bytes], object], None]
"""Doc guid, the deltas it integrated, and the app client they came from (or None)."""


class DisconnectFn(Protocol):
    """Drop a peer; ``penalty`` keeps it out for a while (it exceeded a limit)."""

    def __call__(self, peer: Peer, reason: str, /, *, penalty: bool = False) -> None: ...


class ShareService:
    """Runs one share. Start with ``await nursery.start(service.run)``."""

    def __init__(
        self,
        config: ShareConfig,
        events: EventBus,
        *,
        send: SendFn,
        disconnect: DisconnectFn,
        snapshots: SnapshotWorker | None = None,
        device: bytes = b"?",
        device_id: str = "?",
        mirror: bool = True,
        idle_unload_s: float = DEFAULT_IDLE_UNLOAD_S,
        chunking: Chunking | None = None,
    ) -> None:
        self.config = config
        self.events = events
        self._send = send
        self.device_id = device_id
        """This device's ID as versions of the file history name it."""
        self._disconnect = disconnect
        self.sync = ShareSync(ShareReplica(config.id.raw))
        self.index = IndexKeeper(config.path, self.sync, self.name)
        self.residency = Residency(idle_unload_s, trio.current_time, pinned=[MANIFEST_GUID])
        self.appends = LogAppends(self, send=send, changed=self._changed, to_apps=self._to_apps)
        """What other processes append to the share's logs."""
        self.logs = DocLogs(
            lambda: self.config, self.sync.replica, self.residency, events,
            snapshots=snapshots, loaded_over_record=self.appends.loaded_over_record,
            live_state=self.appends.live_state,
        )  # fmt: skip
        """The logs and writers of the loaded docs."""
        self._stop_asked = trio.Event()
        self._finished = trio.Event()
        self._refusing = False
        """Set once the share's own tasks ended: calls from outside are refused."""
        self._calls = 0
        """Calls from outside in flight (``_call``): the writers close after them."""
        self._calls_done = trio.Event()
        self.stopped: str | None = None
        """Why the share stopped (its folder lost its marker), None while it runs."""
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

    @property
    def root(self) -> Path:
        return self.config.path

    @property
    def name(self) -> str:
        return str(self.config.id)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start from the persisted index (reading only the logs it does not cover),
        serve until ``aclose`` (or until cancelled); the index is written once more on
        the way out (shielded)."""
        docs_dir(self.root).mkdir(parents=True, exist_ok=True)
        started = False
        try:
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
                    if self.mirror is not None:
                        await tasks.start(self.mirror.run)
                    task_status.started()
                    await self._stop_asked.wait()
                    tasks.cancel_scope.cancel()
                self.logs.tasks = None
                await self._close_writers()
        finally:
            try:
                if started:
                    with trio.CancelScope(shield=True):
                        await self._unloader.save_index_on_stop()
            finally:
                self._finished.set()

    async def aclose(self) -> None:
        """Stop in order (``share remove``, daemon shutdown) and return once ``run``
        has: the share's own tasks end first, then the calls from outside in flight
        (later ones are refused), then every writer finishes its queue. Nothing the
        share runs is left using a closed log."""
        self._stop_asked.set()
        await self._finished.wait()

    async def _close_writers(self) -> None:
        """Refuse calls from outside, wait for those in flight, close every writer
        (each finishes its queue, and the writers' nursery then ends with them)."""
        self._refusing = True
        if self._calls:
            await self._calls_done.wait()
        await self.logs.close()

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        """One call from outside the share's own tasks (a peer's message, the log
        watcher, a control request); refused with UsageError once the share stops."""
        if self._refusing:
            raise UsageError(f"share {self.name} has stopped (removed, or the daemon is stopping)")
        self._calls += 1
        try:
            yield
        finally:
            self._calls -= 1
            if not self._calls and self._refusing:
                self._calls_done.set()

    def _stop(self, reason: str) -> None:
        """Stop taking part (the folder lost its marker): peers' messages are dropped."""
        self.stopped = reason
        for peer in self.sync.peers():
            self.sync.peer_down(peer)

    # -- docs --------------------------------------------------------------------

    # -- inputs ------------------------------------------------------------------

    def peer_up(self, peer: Peer) -> list[Effect]:
        return self.sync.peer_up(peer)

    def peer_down(self, peer: Peer) -> None:
        self.sync.peer_down(peer)

    async def receive(self, peer: Peer, message: SyncMessage) -> None:
        """A message from a member. A doc that has no log yet gets one only when the
        engine stores something in it (a Persist effect): junk about a new guid leaves
        no file behind."""
        if self.stopped or self._refusing:
            return
        with self.call():
            await self._receive(peer, message)

    async def _receive(self, peer: Peer, message: SyncMessage) -> None:
        guid = getattr(message, "guid", None)
        if not isinstance(guid, str):
            pass
        elif guid in self.logs.writers:
            self.residency.touch(guid)
        elif isinstance(message, SyncStep1) and guid in self.sync.replica:
            answer = await answer_from_log(self.sync, self.root, self.name, peer, message)
            await self.execute(answer)
            return
        elif guid in self.sync.replica or log_path(self.root, guid).exists():
            await self.logs.open(guid)  # an unloaded doc is loaded before it changes
        effects = self.sync.receive(peer, message)
        # The engine changed the replica already: its effects are carried out even if
        # the link is cancelled meanwhile (replaced, dropped), or the doc would hold
        # changes its log and its file never get. Bounded: a writer that cannot take
        # them (a full queue, a stalled disk) does not hold the link or a shutdown.
        with trio.CancelScope(shield=True, deadline=trio.current_time() + EFFECTS_GRACE_S) as scope:
            await self.execute(effects, peer=peer)
            for effect in effects:
                if isinstance(effect, Persist):
                    self._changed(effect.guid, peer)
        if scope.cancelled_caught:  # an answer may be unsent: the peer would wait for it
            reason = f"the effects of a message about doc {guid} took over {EFFECTS_GRACE_S:.0f} s"
            log.warning("share %s: peer %s: %s; its link starts over", self.name, peer, reason)
            self._disconnect(peer, reason)

    def _changed(self, guid: str, peer: Peer | None) -> None:
        if self.mirror is not None:
            self.mirror.doc_changed(guid, peer)

    def _to_apps(self, guid: str, updates: list[bytes], origin: object = None) -> None:
        if self.on_app_updates is not None and updates and guid in self.app_docs:
            self.on_app_updates(guid, updates, origin)

    # -- the mirror's view of the share (mirror.engine.DocStore) ------------------

    def doc(self, guid: str) -> DocReplica | None:
        """The doc ``guid``, loaded now if it was not (None if the share has none)."""
        held = self.sync.replica.get(guid)
        if held is None and guid in self.sync.replica and not self.logs.closed:
            self.logs.load_now(guid)
            held = self.sync.replica.get(guid)
        if held is not None:
            self.residency.touch(guid)
        return held

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
        writer = self.logs.writers.get(guid)
        if writer is not None:
            await writer.flush()

    async def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> None:
        """Change doc ``guid`` in place as a local change (the mirror's saves); returns
        once it is durable. Not reported back to the mirror."""
        writer = await self.logs.writer(guid)
        effects = self.sync.local_edit(guid, edit)
        for effect in effects:
            if isinstance(effect, Persist):
                self._to_apps(guid, effect.updates)
                await writer.append(effect.updates, self.history.note(guid, "local save"))
        await self.execute([e for e in effects if not isinstance(e, Persist)])

    async def create_docs(self, edits: Mapping[str, Callable[[YDoc], None]]) -> dict[str, str]:
        """New docs made by local edits, stored as one group (the mirror's new files,
        ``daemon.newdocs``): as ``local_edit`` each, but their logs are created in one
        thread hop and their first updates stored by one group commit. Returns once
        every one is durable, with the guids that could not be stored and why."""
        self.logs.check_writable()
        assert self.logs.nursery is not None
        fresh = [g for g in edits if g not in self.logs.writers and g not in self.sync.replica]
        for guid in edits:
            if guid not in fresh:  # known meanwhile (a peer's message): one at a time
                await self.local_edit(guid, edits[guid])
        docs: list[NewDoc] = []
        effects: list[tuple[str, Effect]] = []  # sent once their doc is durable
        late: list[str] = []
        with trio.CancelScope(shield=True), contextlib.ExitStack() as held:
            # Shielded as ``DocLogs.open``: no log left without its writer.
            opened = await trio.to_thread.run_sync(open_new_logs, self.root, fresh)
            for guid, got in zip(fresh, opened, strict=True):
                if guid in self.logs.writers or guid in self.sync.replica:
                    got.log.close()  # loaded meanwhile (the log watcher saw its new file)
                    late.append(guid)
                    continue
                writer = self.logs.attach(guid, got, replace=False)
                held.enter_context(writer.held())  # not unloaded before it is stored
                made = self.sync.local_edit(guid, edits[guid])
                updates = [u for e in made if isinstance(e, Persist) for u in e.updates]
                docs.append(NewDoc(guid, writer, updates, self.history.note(guid, "local save")))
                effects += [(guid, e) for e in made if not isinstance(e, Persist)]
            failed = await trio.to_thread.run_sync(store_first_updates, docs)
            for doc in docs:
                self.logs.start_writer(doc.writer)
        for guid in late:
            await self.local_edit(guid, edits[guid])
        for doc in docs:
            if doc.guid in failed:
                self.logs.storage_failed(doc.guid)(failed[doc.guid])
            else:
                self._to_apps(doc.guid, doc.updates)
        await self.execute([effect for guid, effect in effects if guid not in failed])
        return {guid: str(error) for guid, error in failed.items()}

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
            await self._local_update(guid, update, notify=notify, kind=kind)

    async def _local_update(
        self, guid: str, update: bytes, *, notify: bool, kind: str = "local save"
    ) -> None:
        check_local_update(update)  # before the log is opened: a refusal creates no file
        writer = await self.logs.writer(guid)
        try:
            effects = self.sync.local_update(guid, update)
        except UpdateError:
            held = self.sync.replica.get(guid)
            if held is not None and held.poisoned:  # pycrdt panicked: the log is intact
                await self.logs.quarantine(Quarantine(guid, [update], "a local update crashed it"))
                await self._reload(guid)
            raise
        persist = [e for e in effects if isinstance(e, Persist)]
        for effect in persist:
            self._to_apps(guid, effect.updates)
            await writer.append(effect.updates, self.history.note(guid, kind))
        await self.execute([e for e in effects if not isinstance(e, Persist)])
        if notify:
            self._changed(guid, None)

    async def app_update(self, guid: str, update: bytes, origin: object) -> bool:
        """An app client's update (docs/apps.md), checked exactly as a peer's, stored
        durably, sent to peers and the other app clients, and written to the file.
        Returns once durable; False if it depends on changes the doc lacks (nothing
        applied). Raises UpdateError for a malformed update (nothing applied)."""
        if self.stopped:
            raise UsageError(self.stopped)
        with self.call():
            check_local_update(update)  # before the log is opened: a refusal creates no file
            writer = await self.logs.writer(guid)
            applied = self.sync.app_update(guid, update)
            for effect in applied.effects:
                if isinstance(effect, Persist):
                    self._to_apps(guid, effect.updates, origin)
                    await writer.append(effect.updates, self.history.note(guid, "local save"))
                elif isinstance(effect, Quarantine):  # pycrdt panicked: the log is intact
                    await self.logs.quarantine(effect)
                else:
                    await self.execute([effect])
            if applied.integrated:
                self._changed(guid, None)
            if applied.error is not None:
                raise applied.error
            return not applied.missing

    async def log_changed(self, path: Path) -> None:
        """A filesystem event on a log file: apply what other processes appended
        (ignored once the share has stopped)."""
        guid = guid_of_log(path)
        if guid is None or path.parent != docs_dir(self.root) or self._refusing:
            return
        with self.call():
            await self.appends.log_changed(guid, path)

    def flush_index(self) -> list[Effect]:
        return self.sync.flush_index()

    # -- effects -----------------------------------------------------------------

    async def execute(self, effects: list[Effect], *, peer: Peer | None = None) -> None:
        """Carry out the engine's effects in order; ``peer`` sent the message they
        answer (its changes are versions of the file history by that device). A
        SyncStep2 (a doc's state) waits until what its log has queued is durable:
        nothing leaves this device that a kill here could take back."""
        for effect in effects:
            match effect:
                case Persist():
                    self._to_apps(effect.guid, effect.updates)
                    writer = await self.logs.writer(effect.guid)
                    note = None
                    if peer is not None:
                        note = self.history.note(effect.guid, "remote change", str(peer))
                    await writer.enqueue(effect.updates, note)
                    self.logs.maybe_compact(effect.guid, writer)
                case Send() | Tell():
                    if isinstance(effect.message, SyncStep2):  # the doc's state now:
                        await self.durable(effect.message.guid)  # none of it a kill takes back
                    self._send(effect.peer, effect.message)
                case Disconnect():
                    self.events.publish("error", share=self.name, message=effect.reason)
                    self._disconnect(effect.peer, effect.reason, penalty=effect.penalty)
                case Reload():
                    await self._reload(effect.guid)
                case Quarantine():
                    kept = await self.logs.quarantine(effect)
                    where = kept or "nowhere (the quarantine is full)"
                    self.failing_docs[effect.guid] = (
                        f"a peer's update could not be applied ({effect.reason}); kept at {where}"
                    )

    async def compact_now(self) -> int:
        """Compact every doc's log now (``p2psync compact``), one after another; logs
        already being compacted are skipped. Returns how many were compacted."""
        with self.call():
            return await self.logs.compact_all()

    async def _reload(self, guid: str) -> None:
        writer = self.logs.writers.pop(guid, None)
        if writer is not None:
            await writer.aclose()
        await self.logs.open(guid, replace=True)
        self._changed(guid, None)

    # -- docs' state -------------------------------------------------------------

    def doc_state(self, guid: str) -> bytes | None:
        """The full state of doc ``guid`` as one Yjs v1 update, or None if unknown; for
        a chunked file's root, its text as one text doc (``mirror.chunkexport``)."""
        doc = self.doc(guid)
        if doc is not None and self.is_chunked(guid):
            return chunked_export(doc.ydoc, guid, self._chunk_text)
        return doc.full_state() if doc is not None else None

    def is_chunked(self, guid: str) -> bool:
        """Whether ``guid`` is the root doc of a chunked file (by the manifest)."""
        entry = self.mirror.mirror.view.by_guid.get(guid) if self.mirror is not None else None
        return entry is not None and entry.kind is FileKind.CHUNKED

    def _chunk_text(self, guid: str) -> str:
        doc = self.doc(guid)
        return doc.text(CONTENT) if doc is not None else ""


def _parse_peer(key: str) -> Peer | None:
    try:
        return DeviceId.parse(key)
    except InvalidIdError:
        return None
