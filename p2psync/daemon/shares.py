"""One share at run time: its doc logs, their writer tasks, its sync engine, its mirror.

A ShareService loads every doc of the share from its log, owns one LogWriter task
per doc, feeds the sync engine with what happens (peer messages, local changes,
records other processes appended to a log) and carries out the engine's effects:
updates are queued for durable storage, messages handed to the peer layer. Updates
from peers are forwarded without waiting for our own fsync (the sender still holds
them); a local change is acknowledged only once durable. Every change to a doc that did not
come from the plain-file mirror (``daemon.mirror``) is reported to it, so it writes
the file back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Protocol

import trio

from p2psync.config import ShareConfig
from p2psync.daemon.events import EventBus
from p2psync.daemon.mirror import MirrorService
from p2psync.errors import StorageError, UpdateError, UsageError
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.protocol.messages import SyncMessage
from p2psync.replica.doc import DocReplica
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import (
    Disconnect,
    Effect,
    Persist,
    Quarantine,
    Reload,
    Send,
    ShareSync,
)
from p2psync.storage import DocLog, should_compact
from p2psync.storage.compaction import YDoc
from p2psync.storage.layout import docs_dir, guid_of_log, log_path
from p2psync.storage.quarantine import quarantine_updates
from p2psync.storage.snapshotter import SnapshotWorker
from p2psync.storage.writer import LogWriter

log = logging.getLogger(__name__)

Peer = Hashable
SendFn = Callable[[Peer, SyncMessage], None]


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
        mirror: bool = True,
    ) -> None:
        self.config = config
        self._snapshots = snapshots
        self.events = events
        self._send = send
        self._disconnect = disconnect
        self.sync = ShareSync(ShareReplica(config.id.raw))
        self._writers: dict[str, LogWriter] = {}
        self._compacting: set[str] = set()
        self._nursery: trio.Nursery | None = None
        self.stopped: str | None = None
        """Why the share stopped (its folder lost its marker), None while it runs."""
        self.mirror: MirrorService | None = None
        if mirror:
            self.mirror = MirrorService(config.path, self, events, device=device,
                                        share=self.name, on_stopped=self._stop)  # fmt: skip

    @property
    def root(self) -> Path:
        return self.config.path

    @property
    def name(self) -> str:
        return str(self.config.id)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load every doc, serve until cancelled; queued appends finish on the way out."""
        docs_dir(self.root).mkdir(parents=True, exist_ok=True)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for path in sorted(docs_dir(self.root).glob("*.ylog")):
                guid = guid_of_log(path)
                if guid is not None:
                    await self._open_doc(guid)
            log.info("share %s: %d docs loaded from %s", self.name, len(self._writers), self.root)
            if self.mirror is not None:
                await nursery.start(self.mirror.run)
            task_status.started()
            await trio.sleep_forever()

    def _stop(self, reason: str) -> None:
        """Stop taking part (the folder lost its marker): peers' messages are dropped."""
        self.stopped = reason
        for peer in self.sync.peers():
            self.sync.peer_down(peer)

    async def aclose(self) -> None:
        """Let every writer finish its queue (the nursery then ends with them)."""
        for writer in self._writers.values():
            await writer.aclose()

    # -- docs --------------------------------------------------------------------

    async def _open_doc(self, guid: str, *, replace: bool = False) -> LogWriter:
        """Open (recovering) the log of ``guid``, load the doc, start its writer.

        A doc the engine already holds keeps its unstored changes and gains the log's
        content, unless ``replace`` (a reload after pycrdt poisoned it) discards it.
        """
        assert self._nursery is not None
        path = log_path(self.root, guid)
        path.parent.mkdir(parents=True, exist_ok=True)
        opened = await trio.to_thread.run_sync(DocLog.open, path)
        if opened.recovery is not None:
            self.events.publish(
                "log-recovered",
                share=self.name,
                doc=guid,
                torn_bytes=opened.recovery.torn_bytes,
                corruption=str(opened.recovery.corruption or ""),
                quarantined_to=str(opened.recovery.quarantined_to or ""),
            )
        held = self.sync.replica.get(guid)
        if held is None or replace:
            self.sync.replica.replace(DocReplica(guid, opened.updates))
        else:  # the engine created it from a peer's message before its log was open
            for update in opened.updates:
                held.apply(update)
        writer = LogWriter(
            opened.log, on_error=self._storage_failed(guid), snapshots=self._snapshots
        )
        await self._nursery.start(writer.run)
        self._writers[guid] = writer
        return writer

    async def _writer(self, guid: str) -> LogWriter:
        writer = self._writers.get(guid)
        return writer if writer is not None else await self._open_doc(guid)

    def _storage_failed(self, guid: str) -> Callable[[BaseException], None]:
        def report(error: BaseException) -> None:
            self.events.publish("error", share=self.name, doc=guid, message=str(error))

        return report

    # -- inputs ------------------------------------------------------------------

    def peer_up(self, peer: Peer) -> list[Effect]:
        return self.sync.peer_up(peer)

    def peer_down(self, peer: Peer) -> None:
        self.sync.peer_down(peer)

    async def receive(self, peer: Peer, message: SyncMessage) -> None:
        """A message from a member. A doc that has no log yet gets one only when the
        engine stores something in it (a Persist effect): junk about a new guid leaves
        no file behind."""
        if self.stopped:
            return
        guid = getattr(message, "guid", None)
        if not isinstance(guid, str) or guid in self._writers:
            pass
        elif log_path(self.root, guid).exists():
            await self._open_doc(guid)
        effects = self.sync.receive(peer, message)
        await self.execute(effects)
        for effect in effects:
            if isinstance(effect, Persist):
                self._changed(effect.guid, peer)

    def _changed(self, guid: str, peer: Peer | None) -> None:
        if self.mirror is not None:
            self.mirror.doc_changed(guid, peer)

    # -- the mirror's view of the share (mirror.engine.DocStore) ------------------

    def doc(self, guid: str) -> DocReplica | None:
        return self.sync.replica.get(guid)

    def guids(self) -> list[str]:
        return list(self.sync.replica.guids())

    def guid_for_path(self, rel: str) -> str:
        """The doc of the file at share path ``rel`` (through the manifest)."""
        return self.mirror.guid_for_path(rel) if self.mirror is not None else rel

    async def durable(self, guid: str) -> None:
        """Return once what is queued for doc ``guid``'s log is durable."""
        writer = self._writers.get(guid)
        if writer is not None:
            await writer.flush()

    async def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> None:
        """Change doc ``guid`` in place as a local change (the mirror's saves); returns
        once it is durable. Not reported back to the mirror."""
        writer = await self._writer(guid)
        effects = self.sync.local_edit(guid, edit)
        for effect in effects:
            if isinstance(effect, Persist):
                await writer.append(effect.updates)
        await self.execute([e for e in effects if not isinstance(e, Persist)])

    async def local_update(self, guid: str, update: bytes, *, notify: bool = True) -> None:
        """Apply a local change; returns once it is durable. Raises UpdateError for
        bytes that are not a Yjs v1 update, LogWriteError if it cannot be stored.
        ``notify`` (not for the mirror's own updates) tells the mirror."""
        if self.stopped:
            raise UsageError(self.stopped)
        writer = await self._writer(guid)
        try:
            effects = self.sync.local_update(guid, update)
        except UpdateError:
            held = self.sync.replica.get(guid)
            if held is not None and held.poisoned:  # pycrdt panicked: the log is intact
                await self._quarantine(Quarantine(guid, [update], "a local update crashed it"))
                await self._reload(guid)
            raise
        persist = [e for e in effects if isinstance(e, Persist)]
        for effect in persist:
            await writer.append(effect.updates)
        await self.execute([e for e in effects if not isinstance(e, Persist)])
        if notify:
            self._changed(guid, None)

    async def log_changed(self, path: Path) -> None:
        """A filesystem event on a log file: apply what other processes appended."""
        guid = guid_of_log(path)
        if guid is None or path.parent != docs_dir(self.root):
            return
        if guid not in self._writers:
            if path.exists():
                await self._open_doc(guid)
                await self.execute(self.sync.doc_appeared(guid))
                self._changed(guid, None)
            return
        try:
            updates = await self._writers[guid].read_new()
        except StorageError as exc:
            log.error("share %s: %s", self.name, exc)
            self.events.publish("error", share=self.name, doc=guid, message=str(exc))
            return
        if updates:
            await self.execute(self.sync.stored_updates(guid, updates))
            self._changed(guid, None)

    def flush_index(self) -> list[Effect]:
        return self.sync.flush_index()

    # -- effects -----------------------------------------------------------------

    async def execute(self, effects: list[Effect]) -> None:
        """Carry out the engine's effects in order."""
        for effect in effects:
            match effect:
                case Persist():
                    writer = await self._writer(effect.guid)
                    await writer.enqueue(effect.updates)
                    self._maybe_compact(effect.guid, writer)
                case Send():
                    self._send(effect.peer, effect.message)
                case Disconnect():
                    self.events.publish("error", share=self.name, message=effect.reason)
                    self._disconnect(effect.peer, effect.reason, penalty=effect.penalty)
                case Reload():
                    await self._reload(effect.guid)
                case Quarantine():
                    await self._quarantine(effect)

    async def _quarantine(self, effect: Quarantine) -> None:
        """Keep updates that crashed pycrdt aside (storage.quarantine) and say so."""
        try:
            kept = await trio.to_thread.run_sync(
                quarantine_updates, self.root, effect.guid, effect.updates, effect.reason
            )
        except OSError as exc:
            log.error("share %s: cannot quarantine an update of %s: %s",
                      self.name, effect.guid, exc)  # fmt: skip
            return
        log.error("share %s: %s; kept at %s, doc reloaded from its log", self.name,
                  effect.reason, kept or "(quarantine full)")  # fmt: skip
        self.events.publish("error", share=self.name, doc=effect.guid, message=effect.reason)

    async def _reload(self, guid: str) -> None:
        writer = self._writers.pop(guid, None)
        if writer is not None:
            await writer.aclose()
        await self._open_doc(guid, replace=True)
        self._changed(guid, None)

    def _maybe_compact(self, guid: str, writer: LogWriter) -> None:
        if guid in self._compacting or not should_compact(writer.log.stats):
            return
        assert self._nursery is not None
        self._compacting.add(guid)
        self._nursery.start_soon(self._compact, guid, writer)

    async def compact_now(self) -> int:
        """Compact every doc's log now (``p2psync compact``), one after another; logs
        already being compacted are skipped. Returns how many were compacted."""
        count = 0
        for guid, writer in list(self._writers.items()):
            if guid in self._compacting:
                continue
            self._compacting.add(guid)
            await self._compact(guid, writer)
            count += 1
        return count

    async def _compact(self, guid: str, writer: LogWriter) -> None:
        async def live_state(unseen: list[bytes]) -> bytes:
            await self.execute(self.sync.stored_updates(guid, unseen))
            state = self.doc_state(guid)
            assert state is not None
            return state

        try:
            await writer.compact(live_state)
        except StorageError as exc:
            log.error("share %s: compaction of %s failed: %s", self.name, guid, exc)
        finally:
            self._compacting.discard(guid)

    # -- status ------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        """Share state for the control API."""
        return {
            "id": self.name,
            "path": str(self.root),
            "docs": self.file_docs(),
            "peers_in_sync": [str(p) for p in self.sync.peers() if self.sync.in_sync_with(p)],
            "peers_connected": [str(p) for p in self.sync.peers()],
            **({"stopped": self.stopped} if self.stopped else {}),
        }

    def file_docs(self) -> int:
        """How many docs the share holds besides its manifest."""
        return len(self.sync.replica) - (MANIFEST_GUID in self.sync.replica)

    def doc_state(self, guid: str) -> bytes | None:
        """The full state of doc ``guid`` as one Yjs v1 update, or None if unknown."""
        doc = self.sync.replica.get(guid)
        return doc.full_state() if doc is not None else None
