"""Peer connections: one link per device, the queue to it, pause and the index flush.

The PeerManager owns every connection; its ``Dialer`` (``daemon.dialer``) dials, its
``Acceptor`` (``daemon.acceptor``) decides who an incoming connection may be, and its
``LinkRunner`` (``daemon.links``) runs each authenticated connection as its device's
link: one sender task, one receiver task, the tie-break between simultaneous dials,
what the peer sends routed to its share. The manager itself queues what the shares
send (a peer that cannot keep up with its bounded queue is disconnected rather than
allowed to grow memory), disconnects and penalizes, pauses and resumes, and flushes
index deltas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from p2psync.config import Config
from p2psync.daemon.acceptor import Acceptor
from p2psync.daemon.dialer import Dialer
from p2psync.daemon.events import EventBus
from p2psync.daemon.links import (
    SEND_QUEUE_MESSAGES,
    AwarenessHooks,
    LinkRunner,
    MembershipHooks,
)
from p2psync.daemon.peerinfo import Link, PeerInfo, Queued, payload_bytes
from p2psync.daemon.penalties import Penalties
from p2psync.daemon.shares import ShareService
from p2psync.ids import DeviceId, ShareId
from p2psync.net.identity import Identity
from p2psync.net.transport import PeerChannel

log = logging.getLogger(__name__)

SEND_QUEUE_BYTES = 64 * 1024 * 1024
"""Bytes of updates queued for one peer at most: a flood of tiny updates cannot make
the queue of a slow peer grow past this (it is disconnected, "cannot keep up")."""
INDEX_FLUSH_DELAY_S = 0.1  # index deltas only confirm sync; updates flow at once


class PeerManager:
    """Connections to every peer, and routing between them and the shares."""

    def __init__(
        self,
        identity: Identity,
        config: Callable[[], Config],
        shares: Callable[[], dict[ShareId, ShareService]],
        events: EventBus,
        *,
        membership: Callable[[], MembershipHooks] | None = None,
        awareness: Callable[[], AwarenessHooks | None] | None = None,
    ) -> None:
        """``membership`` reaches the membership service (built after the manager, as it
        needs the links); without it joins are refused and member lists are ignored.
        ``awareness`` reaches the apps endpoint (built later too; None when it does not
        run): without it peers' awareness states are dropped."""
        self.identity = identity
        self._config = config
        self._shares = shares
        self.events = events
        self.links: dict[DeviceId, Link] = {}
        self.known: dict[DeviceId, PeerInfo] = {}
        self.penalties = Penalties()
        self._flush_needed = trio.Event()
        self._nursery: trio.Nursery | None = None
        self.paused = False
        self._resumed = trio.Event()
        self.paused_shares: set[ShareId] = set()
        self._membership = membership
        self._awareness = awareness
        self.dialer = Dialer(identity, config, self)
        """Dials every peer we have an address for (``daemon.dialer``)."""
        self.acceptor = Acceptor(identity, config, self)
        """Decides who may link, from incoming connections (``daemon.acceptor``)."""
        self._links = LinkRunner(identity.device_id, shares, events, self, config)
        """Runs each authenticated connection as its device's link (``daemon.links``)."""

    @property
    def membership(self) -> MembershipHooks | None:
        """The membership service (``daemon.membership``), None if there is none."""
        return self._membership() if self._membership is not None else None

    @property
    def awareness(self) -> AwarenessHooks | None:
        """The apps endpoint's awareness hooks, None if it does not run."""
        return self._awareness() if self._awareness is not None else None

    # -- services ----------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the dialers and the index flusher until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._flush_indexes)
            self.dialer.start(nursery)
            task_status.started()
            await trio.sleep_forever()

    async def serve(self, listeners: list[trio.SocketListener]) -> None:
        """Accept connections on ``listeners`` until cancelled."""
        await trio.serve_listeners(self._accepted, listeners)

    async def _accepted(self, stream: trio.SocketStream) -> None:
        channel = await self.acceptor.handshake(stream)
        if channel is not None:
            await self._links.run(channel, "incoming")

    def start_share_sync(self, device: DeviceId, share: ShareService) -> None:
        """Start exchanging ``share`` with ``device`` on its live link (it just became
        a member)."""
        if self._nursery is not None:
            self._nursery.start_soon(share.execute, share.peer_up(device))

    def adopt(self, channel: PeerChannel, found_by: str) -> None:
        """Run an authenticated channel as this device's link to its peer; ``found_by``
        says how its address was learnt (``peers`` reports it)."""
        assert self._nursery is not None
        self._nursery.start_soon(self._links.run, channel, found_by)

    # -- used by the shares ------------------------------------------------------

    def send(self, device: object, message: Queued) -> None:
        """Queue ``message`` for ``device``; a peer whose queue is full is dropped."""
        assert isinstance(device, DeviceId)
        link = self.links.get(device)
        if link is None:
            return
        size = payload_bytes(message)
        try:
            if link.queued_bytes + size > SEND_QUEUE_BYTES:
                raise trio.WouldBlock
            link.send.send_nowait(message)
            link.queued_bytes += size
        except trio.WouldBlock:
            self.disconnect(device, "cannot keep up")
        self._flush_needed.set()

    async def room(self, device: object) -> None:
        """Wait until ``device``'s queue is at most half full, or it has no link: what
        answering a peer's questions in bulk waits for (``daemon.logreplies``), so a
        link slower than the answers fills its queue no faster than it drains."""
        assert isinstance(device, DeviceId)
        while (link := self.links.get(device)) is not None and not _has_room(link):
            await link.drained.wait()

    def disconnect(self, device: object, reason: str, *, penalty: bool = False) -> None:
        """Drop ``device``'s connection. With ``penalty`` (it exceeded a limit) it is
        also refused and not dialed for a growing interval (daemon.penalties), and the
        reason is reported (``error`` event, the peer's ``last_error``)."""
        assert isinstance(device, DeviceId)
        link = self.links.get(device)
        if penalty and link is not None and not link.cancel.cancel_called:
            self.penalize(device, reason)  # once per connection
        if link is not None:
            log.warning("disconnecting %s: %s", device.short(), reason)
            link.cancel.cancel()

    def penalize(self, device: DeviceId, reason: str, **fields: str) -> float:
        """Keep ``device`` out for a growing interval (daemon.penalties) and report
        ``reason``: its ``last_error`` and an ``error`` event (with ``fields``, empty
        ones left out). Returns the interval in seconds."""
        seconds = self.penalties.punish(device)
        reason = f"{reason}; refused for {seconds:g} s"
        log.warning("peer %s: %s", device.short(), reason)
        self.info(device).last_error = reason
        extra = {key: value for key, value in fields.items() if value}
        self.events.publish("error", device=str(device), message=reason, **extra)
        return seconds

    # -- pause ---------------------------------------------------------------------

    def pause(self) -> None:
        """Stop syncing: close every connection, refuse new ones (Goodbye ``paused``)
        and stop dialing until ``resume``."""
        if self.paused:
            return
        self.paused = True
        self._resumed = trio.Event()
        for device in list(self.links):
            for share in self._shares().values():
                share.peer_down(device)  # nothing more is queued for it from now on
            self.disconnect(device, "paused")

    def resume(self) -> None:
        """Sync again: dialers dial at once, incoming connections are accepted."""
        self.paused = False
        self._resumed.set()

    def pause_share(self, share_id: ShareId) -> None:
        """Stop syncing one share. Its members are reconnected at once, so that both
        ends start over without it: neither keeps waiting for answers about it."""
        self.paused_shares.add(share_id)
        self._reconnect_members(share_id, "share paused")

    def resume_share(self, share_id: ShareId) -> None:
        """Sync a paused share again: its members reconnect and exchange it afresh."""
        if share_id in self.paused_shares:
            self.paused_shares.discard(share_id)
            self._reconnect_members(share_id, "share resumed")

    def _reconnect_members(self, share_id: ShareId, reason: str) -> None:
        share = self._shares().get(share_id)
        for device in list(self.links):
            if share is not None and share.config.member(device) is not None:
                share.peer_down(device)  # nothing more is queued for it from now on
                self.disconnect(device, reason)

    async def wait_resumed(self) -> None:
        """Return once syncing is not paused (at once if it is not)."""
        await self._resumed.wait()

    def request_flush(self) -> None:
        self._flush_needed.set()

    async def _flush_indexes(self) -> None:
        while True:
            await self._flush_needed.wait()
            await trio.sleep(INDEX_FLUSH_DELAY_S)
            self._flush_needed = trio.Event()
            for share in self._shares().values():
                await share.execute(share.flush_index())

    def info(self, device: DeviceId) -> PeerInfo:
        """What is known of ``device`` (made on first use)."""
        info = self.known.get(device)
        if info is None:
            info = self.known[device] = PeerInfo(device)
        return info


def _has_room(link: Link) -> bool:
    """Whether ``link``'s queue is at most half full, by messages and by bytes."""
    queued = link.send.statistics().current_buffer_used
    return queued <= SEND_QUEUE_MESSAGES // 2 and link.queued_bytes <= SEND_QUEUE_BYTES // 2
