"""What other processes did to a share's logs, taken into the running share.

Another program may append to a doc's log (``p2psync doc apply``, a second tool), or
delete or replace it. ``LogAppends`` belongs to a ``ShareService`` and handles what
the log watcher and the share's ``DocLogs`` see of that: records appended to a
loaded doc's log are applied to the doc, sent to peers, apps and the mirror; a new
log brings its doc in; a log deleted or replaced under a loaded doc is rewritten
from memory; a doc loaded with less than it held when unloaded asks the peers for
the rest; a compaction first takes in what was appended meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Protocol

from p2psync.daemon.doclogs import DocLogs
from p2psync.daemon.events import EventBus
from p2psync.daemon.indexkeeper import IndexKeeper
from p2psync.daemon.sharehistory import ShareHistory
from p2psync.errors import StorageError
from p2psync.protocol.messages import DocError, SyncMessage
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import Effect, Send
from p2psync.replica.sync import ShareSync
from p2psync.storage.writer import LogWriter

log = logging.getLogger(__name__)

Peer = Hashable


class AppendsShare(Protocol):
    """What ``LogAppends`` needs of its share (``ShareService``)."""

    @property
    def name(self) -> str: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def sync(self) -> ShareSync: ...

    @property
    def logs(self) -> DocLogs: ...

    @property
    def history(self) -> ShareHistory: ...

    @property
    def index(self) -> IndexKeeper: ...

    async def execute(self, effects: list[Effect], *, peer: Peer | None = None) -> None: ...

    def doc_state(self, guid: str) -> bytes | None: ...


class LogAppends:
    """Other processes' changes to the logs of one share. ``send`` reaches a peer,
    ``changed`` tells the mirror a doc changed, ``to_apps`` tells the app clients."""

    def __init__(
        self,
        share: AppendsShare,
        *,
        send: Callable[[Peer, SyncMessage | DocError], None],
        changed: Callable[[str, Peer | None], None],
        to_apps: Callable[[str, list[bytes]], None],
    ) -> None:
        self._share = share
        self._send = send
        self._changed = changed
        self._to_apps = to_apps

    async def log_changed(self, guid: str, path: Path) -> None:
        """A filesystem event on the log of doc ``guid`` at ``path``: apply what other
        processes appended (the caller holds one of the share's calls)."""
        share = self._share
        if guid in share.logs.creating:  # a group commit of new docs is making it: looked
            share.logs.deferred.add(guid)  # at once stored (``LocalWrites.create_docs``)
            return
        if guid not in share.logs.writers:
            try:
                if guid in share.sync.replica:  # unloaded: loading it sends what is new
                    if not share.index.log_unchanged(guid, path):  # (not our own last append)
                        await share.logs.open(guid)
                elif path.exists():
                    await share.logs.open(guid)
                    await share.execute(share.sync.doc_appeared(guid))
                    self._changed(guid, None)
            except StorageError as exc:  # its folder went away, say (the mirror stops it)
                log.error("share %s: %s", share.name, exc)
            return
        writer = share.logs.writers[guid]
        try:
            updates, replaced = await writer.read_changes()
            if replaced and share.logs.writers.get(guid) is writer:  # else reopened meanwhile
                await self._restore_log(guid, writer)
        except StorageError as exc:
            log.error("share %s: %s", share.name, exc)
            share.events.publish("error", share=share.name, doc=guid, message=str(exc))
            return
        if updates and guid not in share.logs.writers:  # unloaded meanwhile: load it again
            await share.logs.open(guid)
        elif updates:
            await share.execute(share.sync.stored_updates(guid, updates))
            self._to_apps(guid, updates)
            self._changed(guid, None)
            await writer.enqueue([], share.history.note(guid, "local save"))  # another program's

    async def _restore_log(self, guid: str, writer: LogWriter) -> None:
        """The log of loaded doc ``guid`` was deleted or replaced behind our back: append
        the doc's whole state, so the log holds everything again."""
        share = self._share
        state = share.doc_state(guid)
        if state is None:
            return
        await writer.append([state])
        log.warning("share %s: the log of %s was deleted or replaced; rewritten from memory",
                    share.name, guid)  # fmt: skip
        share.events.publish("log-lost", share=share.name, doc=guid, action="rewritten")

    def loaded_over_record(self, guid: str, loaded: DocReplica, recorded: DocVersion) -> None:
        """Doc ``guid`` was loaded in place of its unloaded record: if it holds less, its
        peers are asked for the rest; what it holds more (another process appended)
        is sent to them, and the mirror is told."""
        if not loaded.version().has_all_of(recorded):
            self._log_lost(guid)
        for effect in self._share.sync.doc_loaded(guid, recorded):
            if isinstance(effect, Send):
                self._send(effect.peer, effect.message)
        self._changed(guid, None)

    def _log_lost(self, guid: str) -> None:
        """Doc ``guid`` loaded from its log holds less than it held when unloaded (the log
        was deleted or replaced by an older copy): ask the peers for it again."""
        share = self._share
        log.warning("share %s: the log of %s lost changes while unloaded; asking peers",
                    share.name, guid)  # fmt: skip
        share.events.publish("log-lost", share=share.name, doc=guid, action="asked-peers")
        for effect in share.sync.doc_lost(guid):
            if isinstance(effect, Send):
                self._send(effect.peer, effect.message)

    async def live_state(self, guid: str, unseen: list[bytes]) -> bytes:
        """The whole state of doc ``guid`` for its compaction, once the doc took in
        ``unseen`` (what other processes appended meanwhile)."""
        await self._share.execute(self._share.sync.stored_updates(guid, unseen))
        self._to_apps(guid, unseen)
        state = self._share.doc_state(guid)
        assert state is not None
        return state
