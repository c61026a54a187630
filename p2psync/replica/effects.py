"""What the sync engine (``replica.sync.ShareSync``) asks the daemon to do: the effects
it returns, carried out in order, and what an app's update came to.

Every effect names a doc or a peer and nothing else: the engine stays free of I/O, and
the daemon (``daemon.shares``) does the writing, sending and reloading.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from p2psync.errors import UpdateError
from p2psync.protocol.messages import DocError, SyncMessage

Peer = Hashable


@dataclass(frozen=True, slots=True)
class Persist:
    """Store ``updates`` durably in the log of doc ``guid`` before the effects after it."""

    guid: str
    updates: list[bytes]


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` to ``peer``."""

    peer: Peer
    message: SyncMessage


@dataclass(frozen=True, slots=True)
class Tell:
    """Send ``peer`` a DocError: we do not use its frames about one doc (modes)."""

    peer: Peer
    message: DocError


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Drop ``peer``: it sent something that is not a valid update or state vector.
    With ``penalty`` it exceeded a limit and is kept out for a while."""

    peer: Peer
    reason: str
    penalty: bool = False


@dataclass(frozen=True, slots=True)
class Reload:
    """Doc ``guid`` was poisoned by a pycrdt panic: reload it from its log."""

    guid: str


@dataclass(frozen=True, slots=True)
class Quarantine:
    """Keep ``updates`` aside for diagnosis, with ``reason``: pycrdt panicked on the
    first of them (or on the chunk it starts) in doc ``guid``. They are never applied
    or stored in a log."""

    guid: str
    updates: list[bytes]
    reason: str


Effect = Persist | Send | Tell | Disconnect | Reload | Quarantine


@dataclass(frozen=True, slots=True)
class AppApplied:
    """What ``ShareSync.app_update`` did: effects to carry out, the deltas integrated,
    and why the update was refused (``error``) or held back (``missing``)."""

    effects: list[Effect]
    integrated: list[bytes]
    error: UpdateError | None
    missing: bool
