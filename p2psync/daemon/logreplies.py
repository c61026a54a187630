"""Peers' questions about unloaded docs, answered from the docs' logs.

A peer's ``SyncStep1`` for a doc the share holds but has not loaded is answered from
the updates in its log, without loading the doc into memory (docs/architecture.md).
A peer's first sync asks about every doc of the share at once; answered one at a
time, each question held the link's reader for a worker-thread hop (open, read and
check a log), so a peer's 10,000 questions took 10,000 hops in a row, the reader
waiting on each. ``LogAnswers`` takes the questions from the link at once and answers
them in batches, one worker-thread hop reading the logs of every question that came
in while the batch before was read. If a doc was loaded meanwhile, the loaded doc
answers.

Answers go out no faster than the peer's link takes them: before a batch is read,
each peer it answers must have room in its send queue (``ShareEffects.room``). A
link slower than the logs are read (a send limit, a slow network) used to fill its
queue and be dropped as "cannot keep up", again and again through a large first
sync. The link's reader must never wait on that room (two devices answering each
other's first syncs would each wait for the other to read), so questions wait
while the batch before waits for room: one per peer and doc (a newer question
replaces one still waiting), and only past ``MAX_WAITING`` more than the share has
docs does asking wait, so a peer that floods questions is held back by its link.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import trio

from p2psync.daemon.shareeffects import ShareEffects
from p2psync.errors import StorageError
from p2psync.protocol.messages import SyncStep1
from p2psync.replica.sync import ShareSync
from p2psync.storage import DocLog
from p2psync.storage.layout import log_path

log = logging.getLogger(__name__)

Peer = Hashable
BATCH = 256
"""The most logs one worker-thread hop reads."""
MAX_WAITING = 4 * BATCH
"""The most questions waiting for their batch beyond one per doc of the share; more
wait to be taken."""


class AnsweringShare(Protocol):
    """What answering from logs needs of the share (``ShareService``)."""

    @property
    def root(self) -> Path: ...

    @property
    def name(self) -> str: ...

    @property
    def sync(self) -> ShareSync: ...

    @property
    def effects(self) -> ShareEffects: ...


@dataclass(eq=False)
class LogAnswers:
    """Questions about unloaded docs, answered in batches (see the module doc). Run
    ``run`` among the share's tasks; questions still waiting when it is cancelled are
    dropped (their peer asks again on its next link)."""

    share: AnsweringShare
    _waiting: dict[tuple[Peer, str], SyncStep1] = field(default_factory=dict, init=False)
    """The questions waiting, by peer and doc, in the order they came."""
    _wake: trio.Event = field(default_factory=trio.Event, init=False)
    _room: trio.Event = field(default_factory=trio.Event, init=False)
    _stopped: bool = field(default=False, init=False)

    async def ask(self, peer: Peer, message: SyncStep1) -> None:
        """Answer ``message`` from ``peer`` with a batch; waits only while more
        questions wait already than ``MAX_WAITING`` beyond the share's docs. Dropped
        once ``run`` has ended."""
        while len(self._waiting) >= self._most() and not self._stopped:
            await self._room.wait()
        if not self._stopped:
            self._waiting[peer, message.guid] = message
            self._wake.set()

    def _most(self) -> int:
        """How many questions may wait before asking waits."""
        return MAX_WAITING + len(self.share.sync.replica)

    async def run(self) -> None:
        """Answer the questions as they come, a batch at a time, until cancelled."""
        try:
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                batch = await self._next_batch()
                if self._waiting:
                    self._wake.set()
                self._room.set()
                self._room = trio.Event()
                await self._answer(batch)
        finally:
            self._stopped = True
            self._waiting.clear()
            self._room.set()  # no asker waits for a batch that never comes

    async def _next_batch(self) -> list[tuple[Peer, SyncStep1]]:
        """The next questions to answer (up to ``BATCH``, oldest first), once every
        peer they came from has room in its send queue."""
        keys = list(itertools.islice(self._waiting, BATCH))  # only this task takes them
        for peer in dict.fromkeys(peer for peer, _ in keys):
            await self.share.effects.room(peer)
        return [(peer, self._waiting.pop((peer, guid))) for peer, guid in keys]

    async def _answer(self, batch: Sequence[tuple[Peer, SyncStep1]]) -> None:
        share = self.share
        guids = [message.guid for _, message in batch]
        stored = await trio.to_thread.run_sync(read_logs, share.root, guids)
        for (peer, message), got in zip(batch, stored, strict=True):
            if isinstance(got, StorageError):
                log.error("share %s: cannot read the log of %s for peer %s: %s", share.name,
                          message.guid, peer, got)  # fmt: skip
                continue
            if share.sync.replica.is_loaded(message.guid):  # loaded meanwhile: it answers
                answer = share.sync.receive(peer, message)
            else:
                answer = share.sync.answer_from_log(peer, message, got)
            await share.effects.execute(answer)


def read_logs(root: Path, guids: Sequence[str]) -> list[list[bytes] | StorageError]:
    """Every update in the log of each of ``guids`` (none for a log not there), or
    why it could not be read. Blocking: each log is opened and closed."""
    read: list[list[bytes] | StorageError] = []
    for guid in guids:
        try:
            read.append(read_stored_updates(root, guid))
        except StorageError as exc:
            read.append(exc)
    return read


def read_stored_updates(root: Path, guid: str) -> list[bytes]:
    """Every update in the log of ``guid`` (blocking; the log is opened and closed)."""
    try:
        opened = DocLog.open(log_path(root, guid), create=False)
    except FileNotFoundError:
        return []
    opened.log.close()
    return opened.updates
