"""Who is in a share and what each member may do: pure rules, no I/O.

Two things live here (docs/security.md, *Membership*):

- ``MemberMap``: a share's member map as every member holds it, a last-writer-wins
  map (a state-based CRDT) from device to mode or ``removed``. Each entry carries the
  logical ``clock`` at which device ``setter`` set it; the highest ``(clock, setter)``
  wins, so members that merge each other's maps in any order end with the same map,
  and a removal is an entry like any other (it wins over older adds and loses to newer
  ones). Only send-receive members may change it (``may_change_members``).
- ``MemberPolicy``: how modes gate the exchange with one peer: whose changes we apply
  (``takes_from``), to whom we send ours (``sends_to``), whom we tell that we refuse
  its changes (``refuses``), and what "in sync" means then (``in_sync``).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from p2psync.config import FolderMode
from p2psync.protocol.messages import MAX_MEMBER_ENTRIES, MAX_SEQUENCE, MemberEntry
from p2psync.protocol.yjs import DocVersion

REMOVED = "removed"
MAX_MEMBERS = MAX_MEMBER_ENTRIES
"""Entries (members and removals) one share's map holds at most; entries about further
devices are ignored, so one member's map always fits one MemberList frame."""
SEED_CLOCK = 0
"""The clock of entries taken from a config that had no map yet (an upgrade, or the
inviter a joiner starts with): any real change, at clock 1 or more, wins over them."""


@dataclass(frozen=True, slots=True)
class MemberState:
    """One device's entry: a FolderMode value or REMOVED, and who set it when."""

    mode: str
    clock: int
    setter: bytes

    @property
    def stamp(self) -> tuple[int, bytes]:
        return self.clock, self.setter


@dataclass
class MemberMap:
    """The member map of one share, keyed by device ID digest (32 bytes)."""

    entries: dict[bytes, MemberState] = field(default_factory=dict)

    def members(self, *, exclude: bytes = b"") -> dict[bytes, FolderMode]:
        """The devices that are members (not removed), with their modes."""
        return {
            device: FolderMode(state.mode)
            for device, state in self.entries.items()
            if state.mode != REMOVED and device != exclude
        }

    def mode_of(self, device: bytes) -> str | None:
        state = self.entries.get(device)
        return state.mode if state is not None else None

    def merge(self, entries: Iterable[MemberEntry]) -> bool:
        """Take every entry newer than ours; True if anything changed."""
        changed = False
        for entry in entries:
            ours = self.entries.get(entry.device)
            if ours is None and len(self.entries) >= MAX_MEMBERS:
                continue
            if ours is None or (entry.clock, entry.setter) > ours.stamp:
                self.entries[entry.device] = MemberState(entry.mode, entry.clock, entry.setter)
                changed = True
        return changed

    def set(self, device: bytes, mode: str, *, setter: bytes) -> None:
        """A local change: ``device`` gets ``mode`` (or REMOVED) at a clock above every
        clock in the map, so it wins over everything this member has seen."""
        clock = max((s.clock for s in self.entries.values()), default=SEED_CLOCK) + 1
        clock = min(clock, MAX_SEQUENCE)  # a member that sent the highest clock cannot stop us
        self.entries[device] = MemberState(mode, clock, setter)

    def reconcile(self, configured: Mapping[bytes, FolderMode], *, us: bytes, seed: bool) -> bool:
        """Make the map say what the local config says (the config is the local view;
        every edit of it is a local change). ``seed``: the map is new, take the config
        at SEED_CLOCK. Entries about ``us`` are others' business: never touched here.
        True if anything changed."""
        changed = False
        for device, mode in configured.items():
            if device == us or self.mode_of(device) == mode.value:
                continue
            if seed:
                self.entries[device] = MemberState(mode.value, SEED_CLOCK, us)
            else:
                self.set(device, mode.value, setter=us)
            changed = True
        for device in list(self.members(exclude=us)):
            if device not in configured:
                self.set(device, REMOVED, setter=us)
                changed = True
        return changed

    def to_entries(self) -> tuple[MemberEntry, ...]:
        return tuple(
            MemberEntry(device, s.mode, s.clock, s.setter) for device, s in self.entries.items()
        )

    def to_json(self) -> dict[str, Any]:
        return {
            device.hex(): [s.mode, s.clock, s.setter.hex()] for device, s in self.entries.items()
        }

    @classmethod
    def from_json(cls, doc: Any) -> MemberMap:
        """Raises ValueError (or TypeError) for anything ``to_json`` does not write."""
        entries = {}
        for device, (mode, clock, setter) in dict(doc).items():
            if mode != REMOVED:
                FolderMode(mode)
            if not isinstance(clock, int) or clock < 0:
                raise ValueError("a member clock is not a natural number")
            entries[bytes.fromhex(device)] = MemberState(mode, clock, bytes.fromhex(setter))
        return cls(entries)


def may_change_members(sender_mode: FolderMode | None) -> bool:
    """Only send-receive members may add, remove or change members: a receive-only
    member's changes are refused everywhere, and a send-only member ignores others, so
    neither may redefine who else is in the share. A non-member (None) never may."""
    return sender_mode is FolderMode.SEND_RECEIVE


class Flow(enum.Enum):
    """Which way changes are expected to flow between us and one peer."""

    BOTH = "both"
    TO_PEER = "to-peer"  # it takes ours, we do not take its
    FROM_PEER = "from-peer"  # we take its, it does not take ours
    NONE = "none"


@dataclass(frozen=True, slots=True)
class MemberPolicy:
    """Our own mode in a share and every other member's, as this device sees them."""

    own: FolderMode = FolderMode.SEND_RECEIVE
    peers: Mapping[Hashable, FolderMode] = field(default_factory=dict)

    def mode_of(self, peer: Hashable) -> FolderMode:
        return self.peers.get(peer, FolderMode.SEND_RECEIVE)

    def takes_from(self, peer: Hashable) -> bool:
        """Apply (and forward) ``peer``'s changes: not if it is receive-only, nor if we
        are send-only (we ignore remote changes to our copy)."""
        return self.own is not FolderMode.SEND_ONLY and (
            self.mode_of(peer) is not FolderMode.RECEIVE_ONLY
        )

    def refuses(self, peer: Hashable) -> bool:
        """``peer`` is receive-only: its changes are refused and it is told so."""
        return self.mode_of(peer) is FolderMode.RECEIVE_ONLY

    def sends_to(self, peer: Hashable) -> bool:
        """Send ``peer`` our changes: not if it is send-only (it ignores them). A
        receive-only device still sends its own, and each member tells it it refuses."""
        return self.mode_of(peer) is not FolderMode.SEND_ONLY

    def flow(self, peer: Hashable) -> Flow:
        take = self.takes_from(peer)
        give = self.sends_to(peer) and self.own is not FolderMode.RECEIVE_ONLY
        if take and give:
            return Flow.BOTH
        if take:
            return Flow.FROM_PEER
        return Flow.TO_PEER if give else Flow.NONE

    def in_sync(self, peer: Hashable, ours: DocVersion | None, theirs: DocVersion | None) -> bool:
        """Whether one doc is in sync with ``peer`` given which way changes flow: both
        ways, the versions are equal; one way, the receiving side holds every insert of
        the sending side (the deletes of a side whose changes are refused are its own).
        A doc with nothing in it (a log created and never written, left by a crash) is
        in sync with a side that lacks it: there is nothing to send."""
        ours, theirs = _holding(ours), _holding(theirs)
        flow = self.flow(peer)
        if flow is Flow.NONE:
            return True
        if flow is Flow.BOTH:
            return ours == theirs
        if flow is Flow.FROM_PEER:
            return theirs is None or (ours is not None and ours.has_all_of(theirs))
        return ours is None or (theirs is not None and theirs.has_all_of(ours))


def _holding(version: DocVersion | None) -> DocVersion | None:
    """``version``, or None when it holds nothing (no insert: an empty doc)."""
    return version if version is not None and version.state_vector else None
