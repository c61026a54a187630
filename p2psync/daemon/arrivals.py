"""New docs a peer sends, stored as groups: the receiving side of a first sync.

A first sync brings one new doc per file. Taken one at a time, each new doc's log was
created on the event loop as its first message arrived (``DocLogs.open``: stat, open,
flock, truncate, header), and its writer stored its first update alone, in a worker
thread of its own (an fdatasync and a folder fsync for the log, another two for its
history timeline). Here a new doc's first updates wait in memory for a group
(``Arrivals.add``) while the link reads on; one task stores the groups one after
another, as a first scan stores its new files (``daemon.newdocs``): their logs created
in one worker-thread hop, their updates stored by one group commit (every log
fdatasynced, several at once, then one folder fsync), their timelines as one group
commit too; only then does each doc get its writer. A group forms while the one
before it is stored, so the groups grow as fast as the disk falls behind.

Nothing is acknowledged earlier than before: a peer's updates were forwarded without
waiting for our own fsync (the sender still holds them), and still are; what waits for
the group is what waited for the writer (an answer with a doc's state, the mirror's
write of its file: ``DocLogs.arrived``). A doc waiting for its group counts as not
received in the persisted index (``DocLogs.unstored``), so a crash before its group is
stored makes the next start ask for it again. More updates of a doc whose group is
still forming join it; those of a doc whose group is being stored wait for its writer.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import trio

from p2psync.daemon.doclogs import DocLogs
from p2psync.daemon.logappends import LogAppends
from p2psync.daemon.newdocs import NewDoc, Stored, open_new_logs, store_first_updates
from p2psync.errors import StorageError
from p2psync.replica.sync import ShareSync
from p2psync.storage.history import VersionNote
from p2psync.storage.layout import log_path

log = logging.getLogger(__name__)

GROUP_DOCS = 256
"""The most docs one group stores; more wait for the next."""
GATHER_S = 0.01
"""How long a group forms after its first doc when no group is being stored: a lone
new file (everyday use) waits no more than that for its log."""


class ArrivalsShare(Protocol):
    """What storing new docs from peers needs of their share (``ShareService``)."""

    @property
    def root(self) -> Path: ...

    @property
    def name(self) -> str: ...

    @property
    def logs(self) -> DocLogs: ...

    @property
    def appends(self) -> LogAppends: ...

    @property
    def sync(self) -> ShareSync: ...


@dataclass
class _Arrival:
    """A new doc's updates waiting for their group, and what its history calls them."""

    updates: list[bytes]
    note: VersionNote | None


@dataclass(eq=False)
class Arrivals:
    """New docs from peers, stored as groups (see the module docstring). Run ``run``
    among the share's tasks."""

    share: ArrivalsShare
    forming: dict[str, _Arrival] = field(default_factory=dict, init=False)
    """The group forming now, in arrival order."""
    _stored: trio.Event = field(default_factory=trio.Event, init=False)
    """Set once the group forming now is stored."""
    _wake: trio.Event = field(default_factory=trio.Event, init=False)

    def takes(self, guid: str) -> bool:
        """Whether updates of doc ``guid`` join the group forming (it is in it)."""
        return guid in self.forming

    def add(self, guid: str, updates: list[bytes], note: VersionNote | None) -> None:
        """Store ``updates`` of doc ``guid``, new here (the engine made it from a
        peer's message: no log, no writer) or in the group forming, with the group."""
        waiting = self.forming.get(guid)
        if waiting is not None:
            waiting.updates.extend(updates)
            return
        self.forming[guid] = _Arrival(list(updates), note)
        self.share.logs.arriving[guid] = self._stored
        self._wake.set()

    async def run(self) -> None:
        """Store the groups as they form, one at a time, until cancelled (a group
        being stored is finished first; one still forming is dropped: its docs are
        not durable, and the persisted index does not count them as received)."""
        while True:
            await self._wake.wait()
            await trio.sleep(GATHER_S)
            self._wake = trio.Event()
            taken = list(self.forming)[:GROUP_DOCS]
            group = {guid: self.forming.pop(guid) for guid in taken}
            stored = self._stored
            if self.forming:  # the rest wait for the next group
                self._stored = trio.Event()
                for guid in self.forming:
                    self.share.logs.arriving[guid] = self._stored
                self._wake.set()
            else:
                self._stored = trio.Event()
            with trio.CancelScope(shield=True):  # no log left without its writer
                await self._store(group, stored)

    async def _store(self, group: dict[str, _Arrival], stored: trio.Event) -> None:
        """Create the logs of ``group``, store their updates as one group commit, then
        start each doc's writer (the updates of a doc whose commit failed queued on it
        again, as a writer would have had them); ``stored`` is set at the end."""
        share, logs = self.share, self.share.logs
        guids = [guid for guid in group if share.sync.replica.is_loaded(guid)]
        docs: list[NewDoc] = []
        logs.creating.update(guids)
        try:
            with contextlib.ExitStack() as held:
                opened = await trio.to_thread.run_sync(open_new_logs, share.root, guids)
                for guid, got in zip(guids, opened, strict=True):
                    writer = logs.attach(guid, got, replace=False)
                    held.enter_context(writer.held())  # not unloaded before it is stored
                    arrival = group[guid]
                    sequence = share.sync.replica.sequence_of(guid)
                    docs.append(NewDoc(guid, writer, arrival.updates, arrival.note, sequence))
                done = await trio.to_thread.run_sync(store_first_updates, docs)
            logs.creating.difference_update(guids)
            await self._start_writers(docs, done)
        except (OSError, StorageError) as exc:
            log.error("share %s: %d new docs from peers not stored: %s", share.name,
                      len(guids), exc)  # fmt: skip
            for doc in docs:
                logs.start_writer(doc.writer)
                await doc.writer.enqueue(doc.updates, doc.note)
        finally:
            logs.creating.difference_update(guids)
            for guid in group:
                if logs.arriving.get(guid) is stored:
                    del logs.arriving[guid]
            stored.set()
        # What the log watcher saw meanwhile: nearly always our own writes, which one
        # thread hop for the group tells apart (a read of each log would be a hop each).
        seen = [guid for guid in guids if guid in logs.deferred]
        logs.deferred.difference_update(seen)
        doclogs = {doc.guid: doc.writer.log for doc in docs}
        ours = await trio.to_thread.run_sync(
            lambda: {guid for guid in seen if guid in doclogs and doclogs[guid].all_ours()}
        )
        for guid in seen:
            if guid not in ours:
                await share.appends.log_changed(guid, log_path(share.root, guid))

    async def _start_writers(self, docs: list[NewDoc], done: Stored) -> None:
        """Start the writer of each doc of a stored group; a doc whose updates could
        not be stored has them queued on its writer, which tries again and reports."""
        logs = self.share.logs
        for doc in docs:
            logs.start_writer(doc.writer)
            error = done.failed.get(doc.guid)
            if error is not None:
                logs.storage_failed(doc.guid)(error)
                await doc.writer.enqueue(doc.updates, doc.note)
