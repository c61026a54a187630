"""Per connected peer, the docs not in sync with it and the docs it lacks of ours,
kept from one look to the next (``ShareSync.sync_counts`` and ``sending``). Pure.

``peerstate.sync_counts`` and ``peerstate.docs_to_send`` are each a pass over every
doc, and ``status`` asks for both every second (the tray, the benchmarks): during a
first sync of 30,000 files, when something changes between any two calls, that was
a fifth of the time ``status`` took on the receiver's event loop. A ``PeerTally``
judges again only the docs that changed since its last look: ours by their sequence
numbers (``ShareReplica.changed_since``), the peer's by what its state recorded
(``PeerState.touched``: an index entry taken, a doc asked or answered). Anything
else that may change a judgement (another ``PeerState``, other modes, changes from
before what the replica keeps) makes it count everything again, as those functions
do; it gives the same figures they give (tests/unit/replica/test_peer_tally.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p2psync.replica.effects import Peer
from p2psync.replica.membership import Flow, MemberPolicy
from p2psync.replica.peerstate import PeerState, doc_in_sync, lacks
from p2psync.replica.share import ShareReplica


@dataclass
class PeerTally:
    """What one connected peer (``state``) differs in from ``replica`` under
    ``policy``, as of our sequence ``sequence``."""

    peer: Peer
    state: PeerState
    policy: MemberPolicy
    sequence: int = 0
    theirs_only: set[str] = field(default_factory=set)
    """Docs its index announced that we do not hold."""
    behind: set[str] = field(default_factory=set)
    """Docs either side holds that are not in sync with it, as ``sync_counts`` counts."""
    lacking: set[str] = field(default_factory=set)
    """Our docs of which it lacks inserts (``docs_to_send``)."""

    def counts(self, replica: ShareReplica) -> tuple[int, int]:
        """``(docs in sync, docs)``, as ``peerstate.sync_counts`` gives them."""
        docs = len(replica) + len(self.theirs_only)
        return docs - len(self.behind), docs

    def judge(self, guids: set[str], replica: ShareReplica) -> None:
        """Look again at the docs ``guids``."""
        state, policy, peer = self.state, self.policy, self.peer
        sends = policy.flow(peer) in (Flow.BOTH, Flow.TO_PEER)
        for guid in guids:
            held, seen = guid in replica, guid in state.versions
            _put(self.theirs_only, guid, seen and not held)
            in_sync = doc_in_sync(peer, state, replica, policy, guid)
            _put(self.behind, guid, (held or seen) and not in_sync)
            _put(self.lacking, guid, sends and lacks(state, replica, guid))
        self.sequence = replica.max_sequence


def _put(docs: set[str], guid: str, inside: bool) -> None:
    if inside:
        docs.add(guid)
    else:
        docs.discard(guid)


def tally(
    peer: Peer,
    state: PeerState,
    replica: ShareReplica,
    policy: MemberPolicy,
    was: PeerTally | None,
) -> PeerTally:
    """``was`` brought up to date, judging again the docs changed since its last look
    (and taking what ``state`` recorded as touched), or a new tally of every doc when
    ``was`` is None or of another state or other modes, or when the replica or the
    state no longer knows which docs changed since (changes from before the replica
    started, too many touched, the peer's versions forgotten)."""
    touched = state.touched.take()
    changed = None if was is None else replica.changed_since(was.sequence)
    if (was is None or was.state is not state or was.policy != policy or changed is None
            or touched is None):  # fmt: skip
        fresh = PeerTally(peer, state, policy)
        fresh.judge({*replica.guids(), *state.versions}, replica)
        return fresh
    was.judge(changed | touched, replica)
    return was
