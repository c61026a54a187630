"""What the sync engine sends (``replica.sync``): answers, floods and index deltas.

Every message is cut to fit a frame (``replica.framing``, ``protocol.yjs_split``); an
update goes to every connected member whose mode takes it (``MemberPolicy.sends_to``)
except the one it came from.
"""

from __future__ import annotations

import logging
from collections.abc import Set
from dataclasses import replace

from p2psync.errors import MalformedYjsError
from p2psync.protocol.messages import SyncStep2, Update
from p2psync.protocol.yjs_split import split_update
from p2psync.replica.effects import Effect, Peer, Send
from p2psync.replica.framing import frames_of, index_messages
from p2psync.replica.peerstate import PeerState
from p2psync.replica.syncstate import SyncState

log = logging.getLogger(__name__)


def step2(sync: SyncState, peer: Peer, guid: str, update: bytes) -> list[Effect]:
    """The SyncStep2 answering ``peer`` with ``update``, in as many frames as it
    takes (``protocol.yjs_split``): the parts in order, all but the last with
    ``more``, so the peer keeps the doc asked for until the whole answer is in."""
    try:
        parts = split_update(update, sync.payload_bytes)
    except MalformedYjsError as exc:  # our own state: Yrs wrote something we cannot read
        log.warning("share %s: the answer for doc %s cannot be split (%s): sent whole",
                    sync.name, guid, exc)  # fmt: skip
        parts = [update]
    last = len(parts) - 1
    state = sync.peers.get(peer)
    if state is not None:  # counted for progress displays as the link writes it
        state.sending.answering(guid)
    return [
        Send(peer, SyncStep2(sync.share_id, guid, part, more=number < last))
        for number, part in enumerate(parts)
    ]


def flood(sync: SyncState, guid: str, updates: list[bytes], *, source: Peer | None) -> list[Effect]:
    """``updates`` of doc ``guid`` to every connected member that takes them, but
    ``source`` (the peer they came from; None for a local change)."""
    peers = [p for p in sync.peers if p != source and sync.policy.sends_to(p)]
    if not peers:
        return []
    return [
        Send(peer, Update(sync.share_id, guid, chunk))
        for chunk in frames_of(updates, sync.payload_bytes)
        for peer in peers
    ]


def index_delta(
    sync: SyncState, peer: Peer, state: PeerState, *, force: bool,
    again: Set[str] = frozenset(),
) -> list[Effect]:  # fmt: skip
    """The index entries ``peer`` has not been sent yet (all since ``sent_sequence``),
    after those of the docs ``again`` it was sent before (oldest change first);
    nothing when there are none, unless ``force`` (an answer to its IndexRequest)."""
    replica = sync.replica
    repeated = replica.entries_of(again, up_to=state.sent_sequence)
    entries = [
        replace(e, size=sync.sizes(e.guid))
        for e in (*repeated, *replica.entries_since(state.sent_sequence))
    ]
    if not entries and not force:
        return []
    since, state.sent_sequence = state.sent_sequence, replica.max_sequence
    messages = index_messages(
        sync.share_id, replica.index_id, entries, since=since,
        max_sequence=replica.max_sequence, urgent=sync.urgent,
        payload_bytes=sync.payload_bytes,
    )  # fmt: skip
    return [Send(peer, message) for message in messages]
