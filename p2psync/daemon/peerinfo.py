"""What the daemon keeps of each peer: its link (``Link``) and the bytes its queue
holds (``payload_bytes``), what status shows of a device (``PeerInfo``) and why its
last link failed (``LinkFailure``).

``PeerManager`` (``daemon.peers``) owns them; the control API's replies
(``daemon.statusreplies``) and membership read them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import trio

from p2psync.ids import DeviceId
from p2psync.net.transport import PeerChannel
from p2psync.protocol import wire
from p2psync.protocol.messages import PeerMessage, SyncStep2, Update

Queued = PeerMessage | wire.Ping | wire.Pong


@dataclass
class Link:
    """One authenticated connection and its outgoing queue."""

    channel: PeerChannel
    send: trio.MemorySendChannel[Queued]
    receive: trio.MemoryReceiveChannel[Queued]
    cancel: trio.CancelScope = field(default_factory=trio.CancelScope)
    since: float = field(default_factory=time.time)
    """When it came up, wall-clock (shown in ``peers``)."""
    up_at: float = field(default_factory=time.monotonic)
    """When it came up, on the monotonic clock: its age, which a clock jump must not
    change (``daemon.links``)."""
    queued_bytes: int = 0
    """Update bytes in the queue (``payload_bytes``), bounded by SEND_QUEUE_BYTES."""
    farewell: tuple[str, str] | None = None
    """The Goodbye (code, message) the sender task is to send last, once asked to."""
    waiting: trio.CancelScope = field(default_factory=trio.CancelScope)
    """Wraps the sender's wait for its next message, never a write."""
    drained: trio.Event = field(default_factory=trio.Event)
    """Set (and replaced) each time the sender has written a batch, and as the link
    ends: what waiting for room in the queue wakes on (``PeerManager.room``)."""

    def wrote(self) -> None:
        """Wake whoever waits for room in the queue (``drained``)."""
        self.drained.set()
        self.drained = trio.Event()

    def say_goodbye(self, code: str, message: str) -> None:
        """Have the sender task end the link with a Goodbye after its current write.

        The Goodbye goes through the one task that writes to the socket: written from
        another task it would fail (busy) whenever the sender is mid-write, and the
        peer would see a bare reset instead of the reason.
        """
        if self.farewell is None:
            self.farewell = (code, message)
            self.waiting.cancel()


@dataclass(frozen=True)
class LinkFailure:
    """Why the last link to a device failed in a way that fails again on every link
    (the peer sent a frame over the limit), for status until a link is up again."""

    code: str
    message: str
    share: str = ""
    """The name of the share the failing frame was about, if known."""
    doc: str = ""
    time: float = 0.0
    retry_at: float = 0.0
    """When (wall clock) the device is dialed and accepted again."""


@dataclass
class PeerInfo:
    """What status shows about a device we know or that tried to connect."""

    device_id: DeviceId
    name: str = ""
    address: str = ""
    last_seen: float = 0.0
    last_error: str = ""
    found_by: str = ""
    """How the current or last connection came about: ``static`` (a configured
    address), ``mdns`` (an address announced on the LAN), ``member`` (an address
    another member told, ``daemon.memberaddresses``), ``invite`` or ``incoming``."""
    failure: LinkFailure | None = None
    """Set when the last link failed and the device is backed off; cleared by the next
    link that comes up."""


def payload_bytes(message: Queued) -> int:
    """The update bytes ``message`` carries (what can be large), for the bound on a
    link's queue (``PeerManager.send``, ``Link.queued_bytes``)."""
    if isinstance(message, Update):
        return sum(len(update) for update in message.updates)
    if isinstance(message, SyncStep2):
        return len(message.update)
    return 0
