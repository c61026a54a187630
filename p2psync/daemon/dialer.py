"""Dialing: one task per peer we have an address for, with jittered backoff, and
the addresses it dials (configured, announced on the LAN, told by members).

``Dialer`` belongs to a ``PeerManager`` (its ``DialHost``): a dialed channel becomes
a link there (``adopt``), and the manager's links, pause and penalties decide when
to dial. LAN discovery (``discovered``, ``vanished``, ``redial_now``) and membership
(``members_told``, ``first_hand``) feed it; ``dial_join`` dials an inviter once.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Mapping
from typing import Protocol

import trio

from p2psync.config import Config, parse_address
from p2psync.daemon.memberaddresses import MemberAddresses
from p2psync.daemon.peerinfo import Link, PeerInfo
from p2psync.daemon.penalties import Penalties
from p2psync.errors import InviteRefusedError
from p2psync.ids import DeviceId
from p2psync.net.identity import Identity
from p2psync.net.transport import HandshakeError, PeerChannel, handshake
from p2psync.protocol import connection as proto

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 60.0


class DialHost(Protocol):
    """What dialing needs of the connections (``PeerManager``)."""

    @property
    def links(self) -> Mapping[DeviceId, Link]: ...

    @property
    def known(self) -> Mapping[DeviceId, PeerInfo]: ...

    @property
    def paused(self) -> bool: ...

    @property
    def penalties(self) -> Penalties: ...

    async def wait_resumed(self) -> None: ...

    def adopt(self, channel: PeerChannel, found_by: str) -> None: ...

    def info(self, device: DeviceId) -> PeerInfo: ...


class Dialer:
    """The dialers of one daemon (see the module docstring)."""

    def __init__(self, identity: Identity, config: Callable[[], Config], host: DialHost) -> None:
        self.identity = identity
        self._config = config
        self._host = host
        self._nursery: trio.Nursery | None = None
        self._dialers: set[DeviceId] = set()
        self.lan_addresses: dict[DeviceId, tuple[str, ...]] = {}
        """Addresses LAN discovery announced for members (see ``discovered``)."""
        self.told = MemberAddresses(identity.device_id)
        """Addresses members told us (see ``members_told``)."""
        self._kicks: dict[DeviceId, trio.Event] = {}

    def start(self, nursery: trio.Nursery) -> None:
        """Dial in ``nursery`` from now on, every configured peer at once."""
        self._nursery = nursery
        self.refresh()

    def refresh(self) -> None:
        """Start a dialer for every configured peer address not yet dialed."""
        if self._nursery is None:
            return
        for peer in self._config().peers:
            if peer.device_id == self.identity.device_id:
                continue  # never dial ourselves (a server would refuse it as "self")
            if peer.addresses:
                self._start_dialer(peer.device_id)

    def _start_dialer(self, device: DeviceId) -> None:
        if self._nursery is not None and device not in self._dialers:
            self._dialers.add(device)
            self._nursery.start_soon(self._dial_forever, device)

    async def _dial_forever(self, device: DeviceId) -> None:
        """Keep one connection to ``device`` up, with jittered exponential backoff."""
        failures = 0
        while True:
            addresses = self._dial_addresses(device)
            if not addresses:
                self._dialers.discard(device)
                return
            if self._host.paused:
                await self._host.wait_resumed()
                continue
            if self._host.penalties.remaining(device):
                # Jittered, so two devices backing off each other do not dial in step.
                jitter = random.uniform(1.0, 1.25)  # noqa: S311 - jitter
                await trio.sleep(self._host.penalties.remaining(device) * jitter)
                continue
            if device not in self._host.links:
                if await self._dial_once(device, addresses):
                    failures = 0
                else:
                    failures += 1
            delay = min(BACKOFF_MAX_S, BACKOFF_MIN_S * math.pow(2, failures))
            kick = self._kicks[device] = trio.Event()  # set by ``discovered``: dial now
            with trio.move_on_after(delay * random.uniform(0.5, 1.0)):  # noqa: S311 - jitter
                await kick.wait()

    async def _dial_once(self, device: DeviceId, addresses: tuple[str, ...]) -> bool:
        channel, _ = await self._connect(device, addresses)
        if channel is not None:
            self._host.adopt(channel, self._found_by(device, channel.address))
        return channel is not None

    async def _connect(
        self, device: DeviceId, addresses: tuple[str, ...], join: bytes | None = None
    ) -> tuple[PeerChannel | None, list[str]]:
        """An authenticated channel to ``device`` at the first of ``addresses`` that
        answers (proving the invite secret ``join`` if given), or None and why each
        address failed (HandshakeError codes as ``code: sentence``). A failed join
        records nothing about ``device``: it is no peer of ours unless the join works."""
        failures = []
        for address in addresses:
            host, port = parse_address(address)
            try:
                with trio.fail_after(proto.HANDSHAKE_TIMEOUT_S):
                    stream = await trio.open_tcp_stream(host, port)
                    channel = await handshake(
                        stream, role=proto.Role.CLIENT, identity=self.identity,
                        device_name=self._config().device_name, expected=device, address=address,
                        join=join,
                    )  # fmt: skip
            except (OSError, HandshakeError, trio.TooSlowError) as exc:
                code = exc.code if isinstance(exc, HandshakeError) else "unreachable"
                failures.append(f"{code}: {address}: {exc or 'timed out'}")
                if code == "wrong-device" and self._found_by(device, address) != "static":
                    # Anyone can announce any device ID (on the LAN, or a member telling
                    # a stale address): a wrong one only gets a log line.
                    log.info("ignoring an announcement of %s: %s", device.short(), exc)
                    continue
                if join is None:
                    self._host.info(device).last_error = str(exc) or "timed out"
                log.debug("dialing %s at %s failed: %s", device.short(), address, exc)
                continue
            return channel, failures
        return None, failures

    async def dial_join(
        self, device: DeviceId, addresses: tuple[str, ...], secret: bytes
    ) -> PeerChannel:
        """An authenticated channel to the inviter ``device``, having proved the
        invite ``secret`` inside it; start it with ``adopt``. Raises
        InviteRefusedError: ``bad-invite`` if the inviter refused the proof,
        ``unreachable`` if no address answered as that device."""
        channel, failures = await self._connect(device, addresses, join=secret)
        if channel is not None:
            return channel
        if any(f.startswith("bad-invite:") for f in failures):
            raise InviteRefusedError(
                "the inviter refused the invite: it is unknown, expired or used already"
            )
        where = "; ".join(failures) or "the invite lists no address"
        code = failures[0].split(":", 1)[0] if failures else "unreachable"
        raise InviteRefusedError(f"could not join through the inviter: {where}", code)

    # -- addresses (p2psync.discovery and membership feed these) ---------------------

    def discovered(self, device: DeviceId, addresses: tuple[str, ...]) -> None:
        """LAN discovery announced ``device`` at ``addresses`` (new, moved, restarted).
        A member of a share we hold is dialed now; anyone else only gets a log line."""
        if device == self.identity.device_id:
            return
        if not any(s.member(device) for s in self._config().shares):
            log.debug("device %s announced on the LAN is in none of our shares", device.short())
            return
        self.lan_addresses[device] = addresses
        self._dial_now(device)

    def members_told(
        self, sender: DeviceId, pairs: tuple[tuple[bytes, str], ...], members: set[DeviceId]
    ) -> bool:
        """Member ``sender`` told where ``members`` listen (its member map's addresses):
        a member with a new address is dialed now. Returns whether ``sender``'s own
        addresses changed (then the others are told them)."""
        fresh, own_changed = self.told.learn(sender, pairs, members)
        for device in fresh:
            self._dial_now(device)
        return own_changed

    def _dial_now(self, device: DeviceId) -> None:
        """Dial ``device`` at once (new addresses): its dialer wakes, or starts."""
        kick = self._kicks.get(device)
        if kick is not None:
            kick.set()
        self._start_dialer(device)

    def first_hand(self, device: DeviceId) -> tuple[str, ...]:
        """Where ``device`` listens as we know it first-hand (what we tell members):
        its static addresses, those LAN discovery announced, those it told us."""
        peer = self._config().peer(device)
        static = peer.addresses if peer is not None else ()
        known = (*static, *self.lan_addresses.get(device, ()), *self.told.own.get(device, ()))
        return tuple(dict.fromkeys(known))

    def redial_now(self) -> None:
        """The network changed (a link came back): every dialer tries at once."""
        for kick in self._kicks.values():
            kick.set()

    def vanished(self, device: DeviceId) -> None:
        """LAN discovery no longer sees ``device`` (a connection to it stays up)."""
        self.lan_addresses.pop(device, None)

    def _dial_addresses(self, device: DeviceId) -> tuple[str, ...]:
        """Configured addresses first, then those announced on the LAN, then those
        members told us."""
        peer = self._config().peer(device)
        static = peer.addresses if peer is not None else ()
        lan = self.lan_addresses.get(device, ())
        return tuple(dict.fromkeys((*static, *lan, *self.told.dial(device))))

    def _found_by(self, device: DeviceId, address: str) -> str:
        peer = self._config().peer(device)
        if peer is not None and address in peer.addresses:
            return "static"
        return "mdns" if address in self.lan_addresses.get(device, ()) else "member"

    def found_by(self, device: DeviceId) -> str:
        """How ``device`` was found, for status: its last connection's way, else
        ``static`` or ``mdns`` if we have an address for it, else ``""``."""
        info = self._host.known.get(device)
        if info is not None and info.found_by:
            return info.found_by
        peer = self._config().peer(device)
        if peer is not None and peer.addresses:
            return "static"
        if device in self.lan_addresses:
            return "mdns"
        return "member" if self.told.dial(device) else ""
