"""What the parts of the sync engine share (``replica.sync``).

One ``SyncState`` per share: its replica, the connected peers' states, the members'
modes, the docs to announce first and how many update bytes fit a frame. The façade
``ShareSync`` owns it; the answers to peers' messages (``replica.inbound``), local
changes (``replica.localchanges``) and what goes out (``replica.outbox``) read and
change it, and hold nothing of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from p2psync.replica.effects import Peer
from p2psync.replica.membership import MemberPolicy
from p2psync.replica.peerstate import PeerState
from p2psync.replica.share import ShareReplica


@dataclass
class SyncState:
    """The sync engine's state of one share (see the module docstring)."""

    replica: ShareReplica
    payload_bytes: int
    """Update bytes one message carries at most (a share of the frame limit)."""
    peers: dict[Peer, PeerState] = field(default_factory=dict)
    """The connected peers, what we know of each one's copy."""
    policy: MemberPolicy = field(default_factory=MemberPolicy)
    """Members' modes (replica.membership): set by the daemon's membership service."""
    sizes: Callable[[str], int | None] = field(default=lambda guid: None)
    """About how many bytes a doc's whole state takes (None: unknown), announced in
    the index for the peers' progress displays; set by the daemon (the log's size)."""
    urgent: frozenset[str] = frozenset()
    """Docs a peer should ask for before the others (the share's manifest: a peer
    writes no file before it has it). Their entries go ahead of an index delta."""
    hold_asks: Callable[[], bool] = field(default=lambda: False)
    """True while new questions wait (set by the daemon: its mirror is far behind the
    docs stored): docs asked then wait their turn (``PeerState.waiting``) until
    ``ShareSync.resume_asks``. Never the ``urgent`` ones."""

    @property
    def share_id(self) -> bytes:
        return self.replica.share_id

    @property
    def name(self) -> str:
        """The share as the log names it."""
        return self.share_id.hex()[:8]
