"""One authenticated connection run as a device's link: its sender, its receiver,
and where what it brings goes (``PeerManager`` in ``daemon.peers`` starts them).

A device has one link. A new one from a device already linked replaces the old one
or is refused as a duplicate: when both devices dial each other at once, both keep
the connection whose client is the device with the smaller ID, so exactly one
survives; a link older than a handshake's window is stale and loses to a new one.
Each link has exactly one sender task (draining a bounded queue, paced to
``[listen] max_send_kib_s`` if set) and one receiver task; sync messages go to the
share they are about, member lists to membership, awareness states to the apps
endpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Protocol

import trio

from p2psync.config import Config
from p2psync.daemon.events import EventBus
from p2psync.daemon.peerinfo import Link, LinkFailure, PeerInfo, Queued, payload_bytes
from p2psync.daemon.sendbatch import Batch, take_ready
from p2psync.daemon.shares import ShareService
from p2psync.errors import (
    FrameTooLargeError,
    LocalProtocolError,
    MessageTooLargeError,
    P2PSyncError,
    RemoteProtocolError,
)
from p2psync.ids import DeviceId, ShareId
from p2psync.net.transport import GOODBYE_TIMEOUT_S, LINGER_TIMEOUT_S, PeerChannel
from p2psync.protocol import connection as proto
from p2psync.protocol import wire
from p2psync.protocol.messages import Awareness, MemberList, SyncMessage, SyncStep2, Update

log = logging.getLogger(__name__)

SEND_QUEUE_MESSAGES = 10_000
FAREWELL_TIMEOUT_S = GOODBYE_TIMEOUT_S + LINGER_TIMEOUT_S + 1.0
DUPLICATE_WINDOW_S = proto.HANDSHAKE_TIMEOUT_S + 10.0


class MembershipHooks(Protocol):
    """What the membership service (daemon.membership) needs from connections."""

    def accept_join(self, device: DeviceId, verifier: bytes) -> str | None:
        """A device proved an invite's secret: None to accept it, or a refusal code."""

    def link_up(self, device: DeviceId, version: int) -> None:
        """A link is up and its shares started: send it our member maps."""

    def receive(self, device: DeviceId, message: MemberList) -> None:
        """A member list from ``device``."""


class AwarenessHooks(Protocol):
    """What the apps endpoint (daemon.apps) needs from connections: presence."""

    def peer_link_up(self, device: DeviceId, version: int) -> None:
        """A link is up: tell it the awareness states of this device's apps."""

    def peer_awareness(self, device: DeviceId, message: Awareness) -> None:
        """Awareness states from ``device``'s apps."""


class LinkHost(Protocol):
    """What running a link needs of the connections (``PeerManager``)."""

    @property
    def links(self) -> MutableMapping[DeviceId, Link]: ...

    @property
    def paused_shares(self) -> set[ShareId]: ...

    @property
    def membership(self) -> MembershipHooks | None: ...

    @property
    def awareness(self) -> AwarenessHooks | None: ...

    def info(self, device: DeviceId) -> PeerInfo: ...

    def send(self, device: object, message: Queued) -> None: ...

    def disconnect(self, device: object, reason: str, *, penalty: bool = False) -> None: ...

    def penalize(self, device: DeviceId, reason: str, **fields: str) -> float: ...

    def request_flush(self) -> None: ...


class LinkRunner:
    """Runs the links of one daemon (see the module docstring)."""

    def __init__(
        self,
        us: DeviceId,
        shares: Callable[[], Mapping[ShareId, ShareService]],
        events: EventBus,
        host: LinkHost,
        config: Callable[[], Config],
    ) -> None:
        self._us = us
        self._shares = shares
        self._events = events
        self._host = host
        self._config = config

    async def run(self, channel: PeerChannel, found_by: str) -> None:
        """Run ``channel`` as its device's link until either end closes it or it is
        cancelled (``Link.cancel``); ``found_by`` says how its address was learnt."""
        device = channel.device_id
        links = self._host.links
        existing = links.get(device)
        if existing is not None and not self._replaces(channel, existing):
            await channel.goodbye("duplicate", "already connected")
            return
        send, receive = trio.open_memory_channel[Queued](SEND_QUEUE_MESSAGES)
        link = Link(channel, send, receive)
        if existing is not None:  # its teardown is done here, before the new link is up
            existing.cancel.cancel()
            self.forget(device, existing, replaced=True)
        # No checkpoint since ``existing`` was read: another link of this device that
        # completes meanwhile finds this one (there is never a moment without a link
        # for a third dial to fill, and never a registered link silently overwritten).
        links[device] = link
        info = self._host.info(device)
        info.name, info.address, info.last_seen = channel.device_name, channel.address, time.time()
        info.found_by = found_by
        info.failure = None
        log.info(
            "peer %s (%s) connected at %s", device.short(), channel.device_name, channel.address
        )
        self._events.publish(
            "peer-connected", device=str(device), name=channel.device_name,
            address=channel.address, protocol_version=channel.version,
        )  # fmt: skip
        try:
            with link.cancel:
                if existing is not None:
                    await existing.channel.goodbye("duplicate", "replaced by a newer connection")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._sender, link)
                    await self._start(device, channel.version)
                    await self._receiver(link)
                    if link.farewell is None:
                        nursery.cancel_scope.cancel()
                    else:  # the sender says goodbye, within a bound
                        nursery.cancel_scope.deadline = trio.current_time() + FAREWELL_TIMEOUT_S
        finally:
            link.wrote()  # nothing waits for room in a queue no one writes any more
            with trio.CancelScope(shield=True):
                self.forget(device, link)
                info.last_seen = time.time()
                await trio.aclose_forcefully(channel.stream)

    async def _start(self, device: DeviceId, version: int) -> None:
        """The link is up: its shares (not paused here) start, then membership and
        the apps endpoint are told."""
        members = [s for s in self._shares().values() if s.config.member(device) is not None]
        for share in members:
            if share.config.id not in self._host.paused_shares:
                await share.execute(share.peer_up(device))
        membership, awareness = self._host.membership, self._host.awareness
        if membership is not None:
            membership.link_up(device, version)
        if awareness is not None:
            awareness.peer_link_up(device, version)

    def forget(self, device: DeviceId, link: Link, *, replaced: bool = False) -> None:
        """``link`` is over: if it is still ``device``'s link, the shares see the peer
        go and a ``peer-disconnected`` event says so (once per link), unless a newer
        link of the device ``replaced`` it: the device never went."""
        links = self._host.links
        if links.get(device) is not link:
            return
        del links[device]
        for share in self._shares().values():
            share.peer_down(device)
        if replaced:
            log.debug("peer %s: its link is replaced by a newer one", device.short())
            return
        log.info("peer %s disconnected", device.short())
        self._events.publish(
            "peer-disconnected", device=str(device), name=self._host.info(device).name,
            connected_since=link.since,
        )  # fmt: skip

    def _replaces(self, new: PeerChannel, old: Link) -> bool:
        """Whether ``new`` replaces ``device``'s link ``old`` (else it is refused as a
        duplicate): by the tie-break of ``_keep_new``, or because ``old`` is stale."""
        device, age = new.device_id.short(), time.monotonic() - old.up_at
        if self._keep_new(new, old.channel):
            why = "the tie-break keeps the new one"
        elif _stale(old):
            why = "the old one is stale"
        else:
            log.debug("peer %s: a second link (%s) is refused: the tie-break keeps the one "
                      "(%s) up for %.1f s", device, _dialer(new), _dialer(old.channel),
                      age)  # fmt: skip
            return False
        log.debug("peer %s: a new link (%s) replaces the one (%s) up for %.1f s: %s",
                  device, _dialer(new), _dialer(old.channel), age, why)  # fmt: skip
        return True

    def _keep_new(self, new: PeerChannel, old: PeerChannel) -> bool:
        """Both ends decide alike: keep the connection dialed by the smaller device ID."""
        smaller_is_us = self._us < new.device_id
        wanted = proto.Role.CLIENT if smaller_is_us else proto.Role.SERVER
        return new.role is wanted and old.role is not wanted

    async def _sender(self, link: Link) -> None:
        """The one task writing to this socket: each message it waits for goes out
        with whatever else is queued by then, in one write (``daemon.sendbatch``);
        pings when we have been quiet."""
        try:
            while link.farewell is None:
                message: Queued = wire.Ping()
                link.waiting = trio.move_on_after(proto.PING_INTERVAL_S)
                with link.waiting:
                    message = await link.receive.receive()
                    link.queued_bytes -= payload_bytes(message)
                if link.farewell is None:
                    await self._write(link, take_ready(link, message))
                    link.wrote()
            await link.channel.goodbye(*link.farewell)
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel, OSError):
            link.cancel.cancel()
        except LocalProtocolError as exc:  # e.g. a duplicate link's goodbye closed it meanwhile
            log.info("link to %s ends: %s", link.channel.device_id.short(), exc)
            link.cancel.cancel()

    async def _write(self, link: Link, batch: Batch) -> None:
        """Write ``batch`` in one write, never cancelled midway; a message it refused
        is reported alone, one it failed on ends the link once those before it are
        written. With a send limit (``[listen] max_send_kib_s``), then wait as long as
        its bytes take at that rate."""
        for message, exc in batch.refused:
            self._unsendable(link, message, exc)
        if batch.frames:
            await link.channel.write(batch.data)
        for message in batch.framed:
            self._wrote(link.channel.device_id, message)
        if batch.failure is not None:
            raise batch.failure
        limit = self._config().max_send_kib_s
        if limit and batch.size:  # [listen] max_send_kib_s: paced after each write
            await trio.sleep(batch.size / (limit * 1024))

    async def _receiver(self, link: Link) -> None:
        device = link.channel.device_id
        while True:
            try:
                with trio.fail_after(proto.IDLE_TIMEOUT_S):
                    event = await link.channel.next_event()
            except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return
            except trio.TooSlowError:
                link.say_goodbye("timeout", "no traffic")
                return
            except FrameTooLargeError as exc:
                self._oversized(link, exc)
                return
            except RemoteProtocolError as exc:
                log.warning("peer %s broke the protocol: %s", device.short(), exc)
                self._events.publish("error", device=str(device), message=str(exc))
                link.say_goodbye(exc.code, str(exc))
                return
            self._host.info(device).last_seen = time.time()
            match event:
                case proto.MessageReceived():
                    await self._route(device, event.message)
                case proto.PingReceived():
                    self._host.send(device, wire.Pong())
                case proto.DocErrorReceived():
                    self._doc_error(device, event)
                case proto.MembersReceived() | proto.AwarenessReceived():
                    self._hand_over(device, event)
                case proto.Closed():
                    log.info("peer %s said goodbye: %s", device.short(), event.message)
                    return
                case _:
                    pass

    def _hand_over(
        self, device: DeviceId, event: proto.MembersReceived | proto.AwarenessReceived
    ) -> None:
        """A member list to membership, awareness states to the apps endpoint."""
        if isinstance(event, proto.MembersReceived):
            membership = self._host.membership
            if membership is not None:
                membership.receive(device, event.message)
        else:
            awareness = self._host.awareness
            if awareness is not None:
                awareness.peer_awareness(device, event.message)

    def _oversized(self, link: Link, exc: FrameTooLargeError) -> None:
        """The peer sent a frame over the limit. It would send it again on every link
        (an older version that does not split large docs, or a hostile peer), so
        besides the Goodbye it is backed off like a peer that exceeded a limit, and
        the failure is reported naming the peer and, if the frame's start said so, the
        share and doc."""
        device = link.channel.device_id
        share = self._shares().get(ShareId(exc.share_id)) if exc.share_id else None
        name = share.name if share is not None and share.config.member(device) else ""
        doc = (exc.guid or "") if name else ""  # a guid of a share we do not know is noise
        what = f"an {exc.kind!r} frame" if exc.kind else "a frame"
        about = f" about doc {doc or '?'} of share {name}" if name else ""
        reason = (
            f"peer {device.short()} sent {what}{about} over the frame limit ({exc}); it "
            "may run an older p2psync that cannot split large docs"
        )
        seconds = self._host.penalize(device, reason, share=name, doc=doc, code=exc.code)
        now = time.time()
        self._host.info(device).failure = LinkFailure(
            exc.code, reason, name, doc, now, now + seconds
        )
        link.say_goodbye(exc.code, str(exc))

    def _unsendable(self, link: Link, message: Queued, exc: MessageTooLargeError) -> None:
        """A message over the frame limit was not sent (the sync engine splits what
        it sends, so this is a bug): reported and skipped, the link stays up."""
        device = link.channel.device_id
        fields: dict[str, str] = {}
        if isinstance(message, SyncStep2 | Update):
            share = self._shares().get(ShareId(message.share_id))
            fields = {"share": share.name if share is not None else "", "doc": message.guid}
        log.error("not sent to %s: %s (%s)", device.short(), exc, fields)
        self._events.publish("error", device=str(device), code="message-too-large",
                             message=f"not sent to peer {device.short()}: {exc}",
                             **fields)  # fmt: skip

    def _wrote(self, device: DeviceId, message: Queued) -> None:
        """A part of an answer written to ``device`` counts in its share's progress."""
        if isinstance(message, SyncStep2):
            share = self._shares().get(ShareId(message.share_id))
            if share is not None:
                share.sync.wrote(device, message)

    def _doc_error(self, device: DeviceId, event: proto.DocErrorReceived) -> None:
        """The peer could not use (or refuses, e.g. ``receive-only``) our changes to a doc."""
        error = event.error
        share = ShareId(error.share_id)
        log.warning("peer %s refused our changes to doc %s of share %s: %s (%s)",
                    device.short(), error.guid, share, error.message, error.code)  # fmt: skip
        self._events.publish(
            "error", share=str(share), doc=error.guid, device=str(device), code=error.code,
            message=f"peer {device.short()}: {error.message}",
        )  # fmt: skip

    async def _route(self, device: DeviceId, message: SyncMessage) -> None:
        share = self._shares().get(ShareId(message.share_id))
        if share is None or share.config.member(device) is None:
            return  # not a member: it gets nothing and changes nothing
        if share.config.id in self._host.paused_shares:
            return  # paused here: nothing of it is exchanged until resume
        try:
            await share.receive(device, message)
        except P2PSyncError as exc:
            self._host.disconnect(device, str(exc))
        except Exception as exc:  # a bug reached by a peer's message must not end the daemon
            log.exception("a message from %s could not be handled", device.short())
            self._events.publish("error", device=str(device), message=f"internal error: {exc}")
            self._host.disconnect(device, f"internal error: {exc}")
        self._host.request_flush()


def _stale(link: Link) -> bool:
    """A device that dials us again long after ``link`` came up has lost it (a link
    outage, a sleep), although no packet told us yet: the new connection wins.
    Simultaneous dials, which the tie-break of ``_keep_new`` settles, fall within
    one handshake timeout of each other."""
    return time.monotonic() - link.up_at > DUPLICATE_WINDOW_S


def _dialer(channel: PeerChannel) -> str:
    """Who dialed ``channel``, for the log."""
    return "dialed by us" if channel.role is proto.Role.CLIENT else "dialed by the peer"
