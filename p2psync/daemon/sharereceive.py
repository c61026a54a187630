"""A member's sync message taken into one share (``ShareService.receive``).

A loaded doc's message goes straight to the sync engine; a question about a doc that
is not loaded is answered from its log, with a batch of such questions
(``daemon.logreplies``); anything else about an unloaded doc loads it first. A doc
that has no log yet gets one only when the engine stores something in it (a Persist
effect), with a group of new docs (``daemon.arrivals``): junk about a new guid leaves
no file behind. Updates from peers are forwarded without waiting for our own fsync
(the sender still holds them). When the effects outlast their grace (an answer waits
for a stalled disk), the link starts over, so the peer asks again instead of waiting
for an answer that never left.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Protocol

import trio

from p2psync.daemon.doclogs import DocLogs
from p2psync.daemon.logreplies import AnsweringShare, LogAnswers
from p2psync.daemon.residency import Residency
from p2psync.protocol.messages import SyncMessage, SyncStep1
from p2psync.replica.effects import Disconnect, Persist
from p2psync.storage.layout import log_path

log = logging.getLogger(__name__)

Peer = Hashable
EFFECTS_GRACE_S = 10.0
"""How long the effects of a peer's message may outlive the cancellation of its link."""


class ReceivingShare(AnsweringShare, Protocol):
    """What taking in a peer's message needs of its share (``ShareService``): what
    answering from its logs needs, and its loaded docs."""

    @property
    def logs(self) -> DocLogs: ...

    @property
    def residency(self) -> Residency: ...

    @property
    def answers(self) -> LogAnswers: ...


async def receive(share: ReceivingShare, peer: Peer, message: SyncMessage) -> None:
    """Take ``message`` from ``peer`` into ``share`` and carry out what the engine
    makes of it (see the module docstring)."""
    guid = getattr(message, "guid", None)
    new = None
    if not isinstance(guid, str):
        pass
    elif guid in share.logs.writers or guid in share.logs.arriving:
        share.residency.touch(guid)
    elif isinstance(message, SyncStep1) and guid in share.sync.replica:
        await share.answers.ask(peer, message)  # answered from its log, with a batch
        return
    elif guid in share.sync.replica or log_path(share.root, guid).exists():
        await share.logs.open(guid)  # an unloaded doc is loaded before it changes
    else:
        new = guid  # its first updates are stored with a group (``daemon.arrivals``)
    effects = share.sync.receive(peer, message)
    # The engine changed the replica already: its effects are carried out even if
    # the link is cancelled meanwhile (replaced, dropped), or the doc would hold
    # changes its log and its file never get. Bounded: a writer that cannot take
    # them (a full queue, a stalled disk) does not hold the link or a shutdown.
    with trio.CancelScope(shield=True, deadline=trio.current_time() + EFFECTS_GRACE_S) as scope:
        await share.effects.execute(effects, peer=peer, new=new)
        for effect in effects:
            if isinstance(effect, Persist):
                share.effects.changed(effect.guid, peer)
    if scope.cancelled_caught:  # an answer may be unsent: the peer would wait for it
        reason = f"the effects of a message about doc {guid} took over {EFFECTS_GRACE_S:.0f} s"
        log.warning("share %s: peer %s: %s; its link starts over", share.name, peer, reason)
        await share.effects.execute([Disconnect(peer, reason)])
