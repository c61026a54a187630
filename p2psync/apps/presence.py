"""Presence: the awareness states (cursors, names) of the apps editing each doc, on
this device and on its peers (docs/apps.md, "Presence"). Sans I/O: the time is passed
in, nothing is sent from here; the server (``apps.server``) sends what the calls
return to apps, and the daemon (``daemon.apps``) to peers. Never stored.

Each state is held for an awareness client ID by its **owner**: the local app
connection that set it, or the peer it came from. The rules are y-protocols' own, so
apps, this device and its peers agree on what is current:

- a state replaces the one held only if its clock is higher, or equal and it removes a
  live state (``_newer``);
- a local app changes only the IDs it set itself or that nobody holds (y-websocket
  clients echo the states they receive: the echo changes nothing); a peer never
  changes the state of a local app's ID;
- a state not renewed for ``timeout_s`` (30 s, y-protocols' ``outdatedTimeout``; an
  app renews its own every 15 s) is removed, and so are the states of a local app that
  disconnects: each becomes ``null`` with its clock + 1, sent to the apps (and, for a
  local app's, to the peers). A removed state is remembered (a *tombstone*) for
  ``timeout_s``, so an older state relayed late by another peer cannot revive it.

What one peer may make this device hold is bounded (``peer_bytes``, tombstones
included) and so is how many states per second it may tell (``peer_states_per_s``):
what is over is dropped, as if lost; a hostile peer cannot grow memory without bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from p2psync.protocol.messages import AwarenessState

DocKey = tuple[str, str]
"""A doc: (share name, doc guid)."""
REMOVED = "null"
ENTRY_COST = 128
"""Bytes one held state costs besides its JSON text (for ``peer_bytes``)."""


@dataclass(frozen=True, slots=True)
class PresenceLimits:
    timeout_s: float = 30.0
    """A state not renewed this long is removed (y-protocols' ``outdatedTimeout``)."""
    peer_bytes: int = 2 * 1024 * 1024
    """What one peer's states may take, tombstones included; further ones are dropped."""
    peer_states_per_s: float = 1000.0
    peer_burst: int = 2000


@dataclass(slots=True)
class _Held:
    clock: int
    state: str
    owner: object
    """The local app connection that set it, or None for a peer's."""
    peer: str | None
    """The peer it came from, or None for a local app's."""
    updated: float

    @property
    def removed(self) -> bool:
        return self.state == REMOVED

    @property
    def cost(self) -> int:
        return len(self.state.encode()) + ENTRY_COST


@dataclass(slots=True)
class _Bucket:
    tokens: float
    last: float


def _newer(held: _Held | None, state: AwarenessState) -> bool:
    """Whether ``state`` replaces ``held`` (y-protocols' ``applyAwarenessUpdate``)."""
    if held is None:
        return not state.removed  # removing what nobody holds changes nothing
    if state.clock != held.clock:
        return state.clock > held.clock
    return state.removed and not held.removed


@dataclass(frozen=True, slots=True)
class Expired:
    """States removed in one doc: ``states`` go to its apps, ``local`` (those of this
    device's apps) to the peers too."""

    states: list[AwarenessState]
    local: list[AwarenessState]


@dataclass
class Presence:
    """The awareness states of every doc, local and from peers (module docstring)."""

    limits: PresenceLimits = field(default_factory=PresenceLimits)
    docs: dict[DocKey, dict[int, _Held]] = field(default_factory=dict)
    peer_bytes: dict[str, int] = field(default_factory=dict)
    """What each peer's held states cost now (``ENTRY_COST`` each plus its text)."""
    dropped: int = 0
    """States from peers dropped by the limits."""
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def states(self, key: DocKey, *, local: bool = False) -> list[AwarenessState]:
        """The live states of doc ``key`` (what an app joining it is sent); with
        ``local``, only those of this device's apps (what a peer linking is sent)."""
        held = self.docs.get(key, {})
        return [
            AwarenessState(c, h.clock, h.state)
            for c, h in held.items()
            if not h.removed and not (local and h.peer is not None)
        ]

    def claims(self, key: DocKey, owner: object, states: Iterable[AwarenessState]) -> set[int]:
        """The client IDs ``states`` would make the app connection ``owner`` hold
        (those no one else holds live), for its limit of IDs."""
        doc = self.docs.get(key, {})
        return {
            s.client
            for s in states
            if not s.removed
            and ((held := doc.get(s.client)) is None or held.removed or held.owner is owner)
        }

    def from_app(
        self, key: DocKey, owner: object, states: Iterable[AwarenessState], now: float
    ) -> list[AwarenessState]:
        """States a local app connection ``owner`` sent; returns those taken, for the
        doc's other apps and the peers."""
        doc = self.docs.setdefault(key, {})
        taken = []
        for state in states:
            held = doc.get(state.client)
            if held is not None and not held.removed and held.owner is not owner:
                continue  # another app's or a peer's client: an echo
            if _newer(held, state):
                self._put(doc, state, owner, None, now)
                taken.append(state)
        self._prune(key)
        return taken

    def from_peer(
        self, key: DocKey, peer: str, states: Iterable[AwarenessState], now: float
    ) -> list[AwarenessState]:
        """States peer ``peer`` told; returns those taken, for the doc's apps and the
        other peers. What is over the peer's limits is dropped (``dropped``)."""
        doc = self.docs.setdefault(key, {})
        taken = []
        for state in states:
            if not self._charge(peer, now):
                self.dropped += 1
                continue
            held = doc.get(state.client)
            if held is not None and not held.removed and held.peer is None:
                continue  # a local app's client
            if not _newer(held, state):
                continue
            freed = held.cost if held is not None and held.peer == peer else 0
            cost = len(state.state.encode()) + ENTRY_COST
            if self.peer_bytes.get(peer, 0) - freed + cost > self.limits.peer_bytes:
                self.dropped += 1
                continue
            self._put(doc, state, None, peer, now)
            taken.append(state)
        self._prune(key)
        return taken

    def app_left(self, owner: object, now: float) -> dict[DocKey, list[AwarenessState]]:
        """The local app connection ``owner`` is gone: its states, removed (for the
        docs' other apps and the peers)."""
        gone: dict[DocKey, list[AwarenessState]] = {}
        for key, doc in self.docs.items():
            for client, held in list(doc.items()):
                if held.owner is owner and not held.removed:
                    gone.setdefault(key, []).append(self._remove(doc, client, now))
        return gone

    def expire(self, now: float) -> dict[DocKey, Expired]:
        """Remove the states not renewed for ``timeout_s`` and forget the tombstones as
        old; returns the states removed per doc."""
        oldest = now - self.limits.timeout_s
        expired: dict[DocKey, Expired] = {}
        for key, doc in list(self.docs.items()):
            for client, held in list(doc.items()):
                if held.updated > oldest:
                    continue
                if held.removed:
                    self._drop(doc, client)
                    continue
                local = held.peer is None
                found = expired.setdefault(key, Expired([], []))
                found.states.append(removed := self._remove(doc, client, now))
                if local:
                    found.local.append(removed)
            self._prune(key)
        return expired

    # -- held states ------------------------------------------------------------------

    def _put(
        self, doc: dict[int, _Held], state: AwarenessState, owner: object, peer: str | None,
        now: float,
    ) -> None:  # fmt: skip
        self._drop(doc, state.client)
        held = doc[state.client] = _Held(state.clock, state.state, owner, peer, now)
        if peer is not None:
            self.peer_bytes[peer] = self.peer_bytes.get(peer, 0) + held.cost

    def _remove(self, doc: dict[int, _Held], client: int, now: float) -> AwarenessState:
        held = doc[client]
        removed = AwarenessState(client, held.clock + 1, REMOVED)
        self._put(doc, removed, held.owner, held.peer, now)
        return removed

    def _drop(self, doc: dict[int, _Held], client: int) -> None:
        held = doc.pop(client, None)
        if held is not None and held.peer is not None:
            left = self.peer_bytes[held.peer] - held.cost
            if left:
                self.peer_bytes[held.peer] = left
            else:
                del self.peer_bytes[held.peer]

    def _prune(self, key: DocKey) -> None:
        if not self.docs.get(key, True):
            del self.docs[key]

    def _charge(self, peer: str, now: float) -> bool:
        """A token bucket per peer: ``peer_states_per_s``, bursts of ``peer_burst``."""
        limits = self.limits
        bucket = self._buckets.setdefault(peer, _Bucket(float(limits.peer_burst), now))
        refill = (now - bucket.last) * limits.peer_states_per_s
        bucket.tokens = min(float(limits.peer_burst), bucket.tokens + refill)
        bucket.last = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True
