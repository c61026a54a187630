"""What the sync engine knows of each peer's copy of a share (``replica.sync``).

A connected peer has a ``PeerState``: its index as far as we have seen it, what we
asked it for, what it created unasked. When its link goes, what may be trusted of
its index on the next link is kept as ``Remembered`` (``resume_point``), and it is
what the persisted index stores across restarts. Whether a peer is in sync with us
is judged from its state (``in_sync``, ``sync_counts``; ``replica.peertally`` keeps
the counts up to date from the docs it records as ``touched``).
"""

from __future__ import annotations

import itertools
from collections.abc import Set
from dataclasses import dataclass, field

from p2psync.protocol.yjs import DocVersion
from p2psync.replica.effects import Peer
from p2psync.replica.membership import Flow, MemberPolicy
from p2psync.replica.share import ShareReplica
from p2psync.replica.touched import Touched
from p2psync.replica.transfer import Sending, Transfer

ASK_WINDOW = 2048
"""Docs asked of one peer at most whose answer has not come: a first sync asks for
every doc the peer announced, and with more than this the rest wait their turn
(``PeerState.waiting``), so that questions never fill the link's send queue
(``daemon.links.SEND_QUEUE_MESSAGES``, 10,000 messages), whatever the share's size."""


@dataclass
class PeerState:
    """What we know of one connected peer's copy of this share."""

    index_id: bytes = b""
    max_sequence: int = 0
    sent_sequence: int = 0
    versions: dict[str, tuple[int, DocVersion]] = field(default_factory=dict)
    requested: set[str] = field(default_factory=set)
    """The docs asked of it (or waiting their turn to be) and not answered yet."""
    waiting: dict[str, None] = field(default_factory=dict)
    """The docs of ``requested`` whose SyncStep1 has not gone yet (``ASK_WINDOW``), in
    the order they were asked."""
    new_docs: int = 0
    """Docs this connection created without our asking (live updates of unknown docs)."""
    dropped_new_docs: int = 0
    refused: set[str] = field(default_factory=set)
    """Docs whose changes we told this (receive-only) peer we refuse."""
    heard_index: bool = False
    """An Index came on this link. Until then what we remember of the peer's index may
    be old (it changed while we were apart): the peer is not in sync yet."""
    transfer: Transfer = field(default_factory=Transfer)
    """What we asked of it and it answered, for progress (``replica.transfer``)."""
    sending: Sending = field(default_factory=Sending)
    """What it asked of us and we answered, for progress (``replica.transfer``)."""
    sizes: dict[str, int] = field(default_factory=dict)
    """The size its index announced of each doc (``IndexEntry.size``), if it did."""

    touched: Touched = field(default_factory=Touched)
    """The docs whose entry in ``versions`` changed, or that were asked of it or
    answered, since ``replica.peertally`` last looked."""
    heard: int = 0
    """Counts the changes to what we know of its copy (an index message taken, a doc
    asked of it or answered): with our own docs' sequence, it tells when ``in_sync``
    and ``sync_counts`` may give another answer (``ShareSync``). An index comes in
    several messages that carry one ``max_sequence``."""

    def ask(self, guid: str, *, hold: bool = False) -> bool:
        """``guid`` is asked of this peer: True if its SyncStep1 goes out now, False if
        it waits for an answer to make room, or while questions are held (``hold``),
        for its turn (``next_asks``)."""
        self.transfer.ask(guid, self.requested, self.sizes.get(guid))
        self.requested.add(guid)
        self.touched.add(guid)
        self.heard += 1
        if hold or len(self.requested) - len(self.waiting) > ASK_WINDOW:
            self.waiting[guid] = None
            return False
        return True

    def answered(self, guid: str) -> None:
        """What was asked of ``guid`` is answered, or refused: no longer awaited."""
        self.requested.discard(guid)
        self.waiting.pop(guid, None)
        self.transfer.done(guid)
        self.touched.add(guid)
        self.heard += 1

    def next_asks(self) -> list[str]:
        """The docs waiting whose turn has come (room in ``ASK_WINDOW``), in the order
        they were asked: their SyncStep1s go out now."""
        room = ASK_WINDOW - (len(self.requested) - len(self.waiting))
        due = list(itertools.islice(self.waiting, max(room, 0)))
        for guid in due:
            del self.waiting[guid]
        return due


@dataclass
class Remembered:
    """What a peer's index told us, kept across disconnects: a reconnect asks only for
    the entries after ``max_sequence``, so the versions of the others must be kept."""

    index_id: bytes = b""
    max_sequence: int = 0
    versions: dict[str, tuple[int, DocVersion]] = field(default_factory=dict)
    refused: bool = False
    """Read from the persisted index, recorded while we took none of the peer's
    changes (``PeerRecord.refused``)."""


def resume_point(state: PeerState) -> Remembered:
    """What we may remember of a peer's index once its link is gone: not the docs we
    asked it for and did not get (their SyncStep2 was lost with the link, e.g. the
    losing link of a simultaneous dial). Their versions are forgotten and the sequence
    stops before the first of them, so the next IndexRequest brings their entries
    again and they are asked for again; without this nothing would ever ask for them
    until the peer changed them once more."""
    return stop_before(Remembered(state.index_id, state.max_sequence, state.versions),
                       state.requested)  # fmt: skip


def stop_before(known: Remembered, missing: Set[str]) -> Remembered:
    """What ``known`` of a peer's index may be trusted while we lack the docs
    ``missing`` from it: their versions forgotten, and its sequence stopping before
    the first of them, so that its next index delta brings their entries again."""
    pending = [known.versions[guid][0] for guid in missing if guid in known.versions]
    if not pending:
        return known
    versions = {guid: seen for guid, seen in known.versions.items() if guid not in missing}
    max_sequence = min([known.max_sequence, *(sequence - 1 for sequence in pending)])
    return Remembered(known.index_id, max(max_sequence, 0), versions)


def in_sync(peer: Peer, state: PeerState, replica: ShareReplica, policy: MemberPolicy) -> bool:
    """Whether connected ``peer`` (``state``) has told us it holds exactly our version
    of every doc of ``replica``, as its mode (``policy``) counts it."""
    if state.requested or not state.heard_index:
        return False
    if state.sent_sequence < replica.max_sequence:
        return False
    for guid in replica.guids():  # first: during a sync, a doc it lacks ends it soon
        seen = state.versions.get(guid)
        ours = replica.version(guid)
        if not policy.in_sync(peer, ours, seen[1] if seen is not None else None):
            return False
    return not policy.takes_from(peer) or not any(
        version.state_vector and guid not in replica  # a doc that holds nothing is never sent
        for guid, (_, version) in state.versions.items()
    )


def docs_to_send(
    peer: Peer, state: PeerState, replica: ShareReplica, policy: MemberPolicy
) -> set[str]:
    """Our docs of which connected ``peer`` (``state``) lacks inserts, as far as its
    index told us, if its mode takes our changes (for progress: a doc that differs
    only by deletes is not counted). A pass over every doc: ``replica.peertally`` keeps
    the same set as docs change, and its tests compare the two."""
    if policy.flow(peer) not in (Flow.BOTH, Flow.TO_PEER):
        return set()
    return {guid for guid in replica.guids() if lacks(state, replica, guid)}


def lacks(state: PeerState, replica: ShareReplica, guid: str) -> bool:
    """Whether the peer of ``state`` lacks inserts of our doc ``guid`` (False for a
    doc we do not hold, or hold empty)."""
    ours, seen = replica.version(guid), state.versions.get(guid)
    if ours is None or not ours.state_vector:
        return False
    return seen is None or not seen[1].has_all_of(ours)


def sync_counts(
    peer: Peer, state: PeerState, replica: ShareReplica, policy: MemberPolicy
) -> tuple[int, int]:
    """``(docs in sync, docs)`` with connected ``peer`` (``state``), over the docs
    either side holds, each counted as ``in_sync`` counts it (``ShareSync.sync_counts``).
    A pass over every doc: ``replica.peertally`` keeps the same counts as docs change,
    and its tests compare the two."""
    guids = set(replica.guids()) | set(state.versions)
    synced = sum(doc_in_sync(peer, state, replica, policy, guid) for guid in guids)
    return synced, len(guids)


def doc_in_sync(
    peer: Peer, state: PeerState, replica: ShareReplica, policy: MemberPolicy, guid: str
) -> bool:
    """Whether doc ``guid`` (held by either side) is in sync with ``peer``, as
    ``in_sync`` judges it: not asked for and not behind by the peer's mode."""
    if guid in state.requested:
        return False
    seen = state.versions.get(guid)
    return policy.in_sync(peer, replica.version(guid), seen[1] if seen is not None else None)
