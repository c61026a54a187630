"""A connected peer's sync messages, answered (``replica.sync``).

``handle`` takes one message from a peer and returns the effects: an IndexRequest is
answered with an index delta, led by the entries of the docs that peer lacks as far as
its index told us (``docs_to_send``: it did not ask for them; told again, it does), and
the docs asked of that peer and not answered are asked again (it started afresh); an
Index with SyncStep1s for what we miss, a SyncStep1 with a SyncStep2, and a SyncStep2
or live Update is checked, stored and flooded (its sender's mode permitting,
``MemberPolicy``). A message that fails validation raises ``RejectedError`` carrying
the effects of what was valid before it; the façade disconnects the peer.
"""

from __future__ import annotations

from p2psync.errors import UpdateError
from p2psync.protocol.messages import (
    DocError,
    Index,
    IndexRequest,
    SyncMessage,
    SyncStep1,
    SyncStep2,
    Update,
)
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import Effect, Peer, Persist, Quarantine, Reload, Send, Tell
from p2psync.replica.outbox import flood, index_delta, step2
from p2psync.replica.peerstate import PeerState, docs_to_send
from p2psync.replica.stored import EMPTY_UPDATE
from p2psync.replica.syncstate import SyncState

MAX_UNASKED_NEW_DOCS = 200
"""Docs one connection may create with live updates we did not ask for; later ones are
dropped (the peer's index announces them and we ask, at our pace)."""
MAX_DROPPED_NEW_DOCS = 1000
"""Dropped live updates of unknown docs after which the peer is disconnected with a
penalty: it creates docs far faster than anyone edits."""


class RejectedError(Exception):
    """A peer's message failed validation part-way; carries the effects so far.
    ``penalty``: the peer exceeded a limit (or crashed the CRDT engine)."""

    def __init__(
        self,
        reason: str,
        effects: list[Effect] | None = None,
        reload: list[Effect] | None = None,
        *,
        penalty: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.effects = effects or []
        self.reload = reload or []
        self.penalty = penalty


def handle(sync: SyncState, peer: Peer, state: PeerState, message: SyncMessage) -> list[Effect]:
    """The effects of one ``message`` from the connected ``peer`` (whose state is
    ``state``). Raises RejectedError if it fails validation."""
    match message:
        case IndexRequest():
            state.sent_sequence = _since(sync, message)
            again = docs_to_send(peer, state, sync.replica, sync.policy)
            return (index_delta(sync, peer, state, force=True, again=again)
                    + _ask_again(sync, peer, state))  # fmt: skip
        case Index():
            return _on_index(sync, peer, state, message)
        case SyncStep1():
            doc = sync.replica.get(message.guid)
            if doc is None and message.guid in sync.replica:
                raise LookupError(f"doc {message.guid} is not loaded (answer_from_log)")
            try:
                update = doc.diff(message.state_vector) if doc else EMPTY_UPDATE
            except UpdateError as exc:
                raise RejectedError(str(exc)) from None
            return step2(sync, peer, message.guid, update)
        case SyncStep2() | Update():
            if not sync.policy.takes_from(peer):
                return _refuse(sync, peer, state, message.guid)
            asked = message.guid in state.requested
            if not asked and not _may_create(sync, state, message):
                return []
            if isinstance(message, Update):
                return _integrate(sync, peer, state, message.guid, message.updates,
                                  live=True, asked=asked)  # fmt: skip
            state.transfer.answered(message.guid, message.update)
            if not message.more:  # the answer is complete (docs/protocol.md §7)
                state.answered(message.guid)
            return _integrate(sync, peer, state, message.guid, [message.update],
                              live=False, asked=asked)  # fmt: skip
    return []


def _since(sync: SyncState, request: IndexRequest) -> int:
    """Where our answer to ``request`` starts: after the sequence it names of our
    index; from the start if it names another index, or a sequence ours never
    reached (the peer kept an old index's sequence when it took this one, as earlier
    releases did: an answer after it would never bring the entries below it)."""
    same = request.index_id == sync.replica.index_id
    return request.since if same and request.since <= sync.replica.max_sequence else 0


def _ask_again(sync: SyncState, peer: Peer, state: PeerState) -> list[Effect]:
    """Ask again for the docs asked of ``peer`` and not answered yet: its IndexRequest
    says it started this share's sync afresh (its share restarted while the link
    stayed up), and the questions its old session had were lost with it. (On a new
    link nothing is asked yet when its IndexRequest comes.)"""
    asked = state.requested.difference(state.waiting)
    return [_question(sync, peer, guid) for guid in sorted(asked)]


def _may_create(sync: SyncState, state: PeerState, message: SyncStep2 | Update) -> bool:
    """False (drop it) if ``message`` would create a doc we did not ask for after
    this connection already created MAX_UNASKED_NEW_DOCS; raises RejectedError
    with a penalty past MAX_DROPPED_NEW_DOCS."""
    if message.guid in sync.replica or state.new_docs < MAX_UNASKED_NEW_DOCS:
        return True
    state.dropped_new_docs += 1
    if state.dropped_new_docs > MAX_DROPPED_NEW_DOCS:
        raise RejectedError(
            f"it sent updates for {state.new_docs + state.dropped_new_docs} new docs "
            "we did not ask for",
            penalty=True,
        )
    return False


def _on_index(sync: SyncState, peer: Peer, state: PeerState, index: Index) -> list[Effect]:
    """Remember the versions ``index`` announces and ask for the docs of which it
    has changes we lack (never of a peer whose changes we do not take)."""
    if index.index_id != state.index_id:
        # Another index of the peer (its share lost its index, or it crashed): what
        # we knew of the old one says nothing of this one, its sequence included.
        # Its numbers may start again below the old one's: kept, the next link would
        # ask only for entries past the old sequence and miss the docs changed below.
        state.versions.clear()
        state.touched.lose()  # every doc it announced before is judged again
        state.max_sequence = 0
    state.index_id = index.index_id
    state.heard_index = True
    state.heard += 1
    state.max_sequence = max(index.max_sequence, state.max_sequence)
    effects: list[Effect] = []
    for entry in index.entries:
        seen = state.versions.get(entry.guid)
        if seen is not None and seen[0] >= entry.sequence:
            continue  # an older entry arriving late
        state.versions[entry.guid] = (entry.sequence, entry.version)
        state.touched.add(entry.guid)
        state.sending.confirmed(entry.guid)
        if entry.size is not None:
            state.sizes[entry.guid] = entry.size
        if not sync.policy.takes_from(peer):
            continue  # its changes are not ours to take (modes): never ask for them
        effects += ask_if_lacking(sync, peer, state, entry.guid, entry.version)
    return effects


def ask_if_lacking(
    sync: SyncState, peer: Peer, state: PeerState, guid: str, theirs: DocVersion
) -> list[Effect]:
    """Ask ``peer`` for doc ``guid`` if its version ``theirs`` holds what ours lacks
    (not asked already)."""
    ours = sync.replica.version(guid)
    if guid in state.requested or (
        ours is not None and ours.has_all_of(theirs) and ours.delete_digest == theirs.delete_digest
    ):
        return []
    if not state.ask(guid, hold=sync.hold_asks() and guid not in sync.urgent):
        return []  # its turn comes as answers arrive (``asks_due``)
    return [_question(sync, peer, guid)]


def asks_due(sync: SyncState, peer: Peer, state: PeerState) -> list[Effect]:
    """The SyncStep1s of the docs asked of ``peer`` that waited for room and whose
    turn has come (``PeerState.next_asks``), each with our state vector as it is now;
    none while questions are held (``SyncState.hold_asks``)."""
    if sync.hold_asks():
        return []
    return [_question(sync, peer, guid) for guid in state.next_asks()]


def _question(sync: SyncState, peer: Peer, guid: str) -> Send:
    """The SyncStep1 asking ``peer`` for doc ``guid``, with our state vector as it is now."""
    return Send(peer, SyncStep1(sync.share_id, guid, sync.replica.state_vector(guid)))


def _resync(sync: SyncState, peer: Peer, state: PeerState, doc: DocReplica) -> list[Effect]:
    """Live updates from ``peer`` skip ahead of what we hold: drop them and ask for
    everything we miss (the SyncStep2 brings the dropped ones too)."""
    if doc.guid in state.requested or not state.ask(doc.guid):
        return []
    return [Send(peer, SyncStep1(sync.share_id, doc.guid, doc.state_vector()))]


def _integrate(
    sync: SyncState,
    peer: Peer,
    state: PeerState,
    guid: str,
    updates: list[bytes],
    *,
    live: bool,
    asked: bool,
) -> list[Effect]:
    """Apply a peer's updates (checked first, see DocReplica.apply_many), store and
    forward what they integrated. Live updates that skip ahead of what we hold stop
    there and we ask for everything we miss (the SyncStep2 brings them again); a
    SyncStep2 answers our own state vector, so a gap in it is a protocol error."""
    held = sync.replica.get(guid)
    doc = held if held is not None else DocReplica(guid)
    applied = doc.apply_many(updates, remote=True)
    effects: list[Effect] = []
    if applied.integrated:
        if held is None:  # a new doc exists once something valid arrived for it
            sync.replica.add(doc)
            state.new_docs += not asked
        sync.replica.touch(guid)
        effects = [Persist(guid, applied.integrated)]
        effects += flood(sync, guid, applied.integrated, source=peer)
    if applied.missing and live:
        return effects + _resync(sync, peer, state, doc)
    if applied.missing:
        raise RejectedError(f"doc {guid}: the SyncStep2 depends on changes it does not bring",
                            effects)  # fmt: skip
    if applied.error is not None:
        reload: list[Effect] = []
        if doc.poisoned and applied.failed_at is not None:
            bad = updates[applied.failed_at :]
            reload = [Quarantine(guid, bad, str(applied.error))]
            reload += [Reload(guid)] if held is not None else []  # a new doc is dropped
        raise RejectedError(str(applied.error), effects, reload, penalty=doc.poisoned)
    return effects


def _refuse(sync: SyncState, peer: Peer, state: PeerState, guid: str) -> list[Effect]:
    """Changes from a peer whose changes we do not take (modes): dropped; a
    receive-only peer is told so, once per doc and connection."""
    state.answered(guid)
    if not sync.policy.refuses(peer) or guid in state.refused:
        return []
    state.refused.add(guid)
    message = "you are a receive-only member: your changes are not applied or forwarded"
    return [Tell(peer, DocError(sync.share_id, guid, "receive-only", message))]
