"""Changes made on this device, stored in one share: the mirror's saves and new
files, local apps' updates, app clients' updates.

Each is applied by the sync engine (``replica.sync``), appended to its doc's log with
a note for the file history, and acknowledged only once durable; what the engine
sends on is carried out after (``daemon.shareeffects``). New docs made together (a
first scan) get their logs in one thread hop and their first updates in one group
commit (``daemon.newdocs``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import trio

from p2psync.daemon.doclogs import DocLogs
from p2psync.daemon.logappends import LogAppends
from p2psync.daemon.newdocs import NewDoc, Stored, close_logs, open_new_logs, store_first_updates
from p2psync.daemon.residency import Residency
from p2psync.daemon.shareeffects import ShareEffects
from p2psync.daemon.sharehistory import ShareHistory
from p2psync.daemon.unloader import Unloader
from p2psync.errors import UpdateError
from p2psync.replica.doc import DocReplica, check_local_update
from p2psync.replica.effects import Effect, Persist, Quarantine
from p2psync.replica.sync import ShareSync
from p2psync.storage.compaction import YDoc
from p2psync.storage.doclog import DocLog
from p2psync.storage.layout import log_path

MADE_KEPT = 1024
"""How many docs made by groups and left unloaded are kept for the mirror to read: two
groups in flight (``mirror.newfiles``) and more."""


class WritesShare(Protocol):
    """What local writes need of their share (``ShareService``)."""

    @property
    def root(self) -> Path: ...

    @property
    def sync(self) -> ShareSync: ...

    @property
    def logs(self) -> DocLogs: ...

    @property
    def history(self) -> ShareHistory: ...

    @property
    def effects(self) -> ShareEffects: ...

    @property
    def unloader(self) -> Unloader: ...

    @property
    def appends(self) -> LogAppends: ...

    @property
    def residency(self) -> Residency: ...


class LocalWrites:
    """Local changes of one share, stored durably (see the module docstring)."""

    def __init__(self, share: WritesShare) -> None:
        self._share = share
        self.made: dict[str, DocReplica] = {}
        """New docs a group left unloaded, oldest first, until the mirror reads them
        (``made_doc``); at most ``MADE_KEPT``."""

    async def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> None:
        """Change doc ``guid`` in place as a local change (the mirror's saves); returns
        once it is durable. Not reported back to the mirror."""
        share = self._share
        writer = await share.logs.writer(guid)
        effects = share.sync.local_edit(guid, edit)
        for effect in effects:
            if isinstance(effect, Persist):
                share.effects.to_apps(guid, effect.updates)
                await writer.append(effect.updates, share.history.note(guid, "local save"))
        await share.effects.execute([e for e in effects if not isinstance(e, Persist)])

    async def create_docs(self, edits: Mapping[str, Callable[[YDoc], None]]) -> dict[str, str]:
        """New docs made by local edits, stored as one group (the mirror's new files,
        ``daemon.newdocs``): as ``local_edit`` each, but their logs are created in one
        thread hop and their first updates stored by one group commit. Returns once
        every one is durable, with the guids that could not be stored and why. Each doc
        nothing touched meanwhile leaves memory at once (``Unloader.unload_new``)."""
        share, logs, sync = self._share, self._share.logs, self._share.sync
        logs.check_writable()
        assert logs.nursery is not None
        fresh = [g for g in edits if g not in logs.writers and g not in sync.replica]
        for guid in edits:
            if guid not in fresh:  # known meanwhile (a peer's message): one at a time
                await self.local_edit(guid, edits[guid])
        docs: list[NewDoc] = []
        effects: list[tuple[str, Effect]] = []  # sent once their doc is durable
        late: list[str] = []
        logs.creating.update(fresh)
        try:
            with trio.CancelScope(shield=True):
                # Shielded as ``DocLogs.open``: no log left without its writer.
                with contextlib.ExitStack() as held:
                    opened = await trio.to_thread.run_sync(open_new_logs, share.root, fresh)
                    for guid, got in zip(fresh, opened, strict=True):
                        if guid in logs.writers or guid in sync.replica:
                            got.log.close()  # loaded meanwhile (by a peer's message)
                            late.append(guid)
                            continue
                        writer = logs.attach(guid, got, replace=False)
                        held.enter_context(writer.held())  # not unloaded before it is stored
                        made = sync.local_edit(guid, edits[guid])
                        updates = [u for e in made if isinstance(e, Persist) for u in e.updates]
                        note = share.history.note(guid, "local save")
                        sequence = sync.replica.sequence_of(guid)
                        docs.append(NewDoc(guid, writer, updates, note, sequence))
                        effects += [(guid, e) for e in made if not isinstance(e, Persist)]
                    stored = await trio.to_thread.run_sync(store_first_updates, docs)
                logs.creating.difference_update(fresh)
                await trio.to_thread.run_sync(close_logs, self._settle(docs, stored))
        finally:
            logs.creating.difference_update(fresh)
        for guid in fresh:  # what the log watcher saw meanwhile: most often our own writes
            if guid in logs.deferred:
                logs.deferred.discard(guid)
                await share.appends.log_changed(guid, log_path(share.root, guid))
        for guid in late:
            await self.local_edit(guid, edits[guid])
        failed = stored.failed
        for doc in docs:
            if doc.guid in failed:
                logs.storage_failed(doc.guid)(failed[doc.guid])
            else:
                share.effects.to_apps(doc.guid, doc.updates)
        await share.effects.execute([effect for guid, effect in effects if guid not in failed])
        return {guid: str(error) for guid, error in failed.items()}

    def _settle(self, docs: list[NewDoc], stored: Stored) -> list[DocLog]:
        """Once a group is stored: each doc nothing touched meanwhile leaves memory (its
        doc kept in ``made`` for the mirror's record of its file), the others' writers
        start. A doc with no first version in its history yet (a binary file's: recorded
        once the manifest names it, ``daemon.filehistory``) stays loaded for that,
        briefly (``Residency.brief``). Returns the logs to close."""
        share = self._share
        closing: list[DocLog] = []
        for doc in docs:
            stat = stored.stats.get(doc.guid)
            replica = share.sync.replica.get(doc.guid)
            if doc.note is None:  # its first version is recorded once the manifest names it
                share.residency.brief(doc.guid)
                share.logs.start_writer(doc.writer)
            elif (
                doc.guid not in stored.failed
                and stat is not None
                and replica is not None
                and share.unloader.unload_new(doc.guid, doc.writer, doc.sequence, stat)
            ):
                self.made[doc.guid] = replica
                closing.append(doc.writer.log)
            else:
                share.logs.start_writer(doc.writer)
        while len(self.made) > MADE_KEPT:
            del self.made[next(iter(self.made))]
        return closing

    def made_doc(self, guid: str) -> DocReplica | None:
        """The doc ``guid`` as a group made it and left it unloaded, if the share's
        version of it is still that doc's: the mirror reads it to record the new file
        (``Ledger.new_record``) without loading the doc again from its log. Read-only:
        it is no longer the share's (a change loads the doc from its log)."""
        doc = self.made.pop(guid, None)
        if doc is None or self._share.sync.replica.is_loaded(guid):
            return None
        return doc if self._share.sync.replica.version(guid) == doc.version() else None

    async def local_update(self, guid: str, update: bytes, *, notify: bool, kind: str) -> None:
        """Apply a local change; returns once it is durable (``ShareService.local_update``
        checks the share runs). Raises UpdateError for bytes that are not a Yjs v1
        update, LogWriteError if it cannot be stored. ``notify`` tells the mirror;
        ``kind`` is what the file history calls the change."""
        share = self._share
        check_local_update(update)  # before the log is opened: a refusal creates no file
        writer = await share.logs.writer(guid)
        try:
            effects = share.sync.local_update(guid, update)
        except UpdateError:
            held = share.sync.replica.get(guid)
            if held is not None and held.poisoned:  # pycrdt panicked: the log is intact
                await share.logs.quarantine(Quarantine(guid, [update], "a local update crashed it"))
                await share.effects.reload(guid)
            raise
        persist = [e for e in effects if isinstance(e, Persist)]
        for effect in persist:
            share.effects.to_apps(guid, effect.updates)
            await writer.append(effect.updates, share.history.note(guid, kind))
        await share.effects.execute([e for e in effects if not isinstance(e, Persist)])
        if notify:
            share.effects.changed(guid, None)

    async def app_update(self, guid: str, update: bytes, origin: object) -> bool:
        """An app client's update (docs/apps.md), checked exactly as a peer's, stored
        durably, sent to peers and the other app clients, and written to the file.
        Returns once durable; False if it depends on changes the doc lacks (nothing
        applied). Raises UpdateError for a malformed update (nothing applied)."""
        share = self._share
        check_local_update(update)  # before the log is opened: a refusal creates no file
        writer = await share.logs.writer(guid)
        applied = share.sync.app_update(guid, update)
        for effect in applied.effects:
            if isinstance(effect, Persist):
                share.effects.to_apps(guid, effect.updates, origin)
                await writer.append(effect.updates, share.history.note(guid, "local save"))
            elif isinstance(effect, Quarantine):  # pycrdt panicked: the log is intact
                await share.logs.quarantine(effect)
            else:
                await share.effects.execute([effect])
        if applied.integrated:
            share.effects.changed(guid, None)
        if applied.error is not None:
            raise applied.error
        return not applied.missing
