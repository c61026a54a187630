"""Accepting: the handshake of an incoming connection, who may link (members,
devices proving an invite), and the devices that tried and are no member yet.

``Acceptor`` belongs to a ``PeerManager`` (its ``AcceptHost``), which runs an
accepted channel as a link; the manager's pause and penalties refuse devices here,
and a join is accepted by membership (``JoinHook``, ``daemon.membership``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import trio

from p2psync.config import Config
from p2psync.daemon.events import EventBus
from p2psync.daemon.peerinfo import PeerInfo
from p2psync.daemon.penalties import Penalties
from p2psync.daemon.pendingrate import PendingRate
from p2psync.ids import DeviceId
from p2psync.net.identity import Identity
from p2psync.net.transport import HandshakeError, PeerChannel, handshake
from p2psync.protocol import connection as proto

log = logging.getLogger(__name__)

MAX_PENDING_HANDSHAKES = 32
MAX_PENDING_DEVICES = 100


class JoinHook(Protocol):
    """Accepts a device that proved an invite's secret (``MembershipService``)."""

    def accept_join(self, device: DeviceId, verifier: bytes) -> str | None:
        """None to accept it, or a refusal code."""


class AcceptHost(Protocol):
    """What accepting needs of the connections (``PeerManager``)."""

    @property
    def paused(self) -> bool: ...

    @property
    def penalties(self) -> Penalties: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def membership(self) -> JoinHook | None: ...


class Acceptor:
    """The incoming side of one daemon's connections (see the module docstring)."""

    def __init__(self, identity: Identity, config: Callable[[], Config], host: AcceptHost) -> None:
        self.identity = identity
        self._config = config
        self._host = host
        self.pending: dict[DeviceId, PeerInfo] = {}
        """Devices that tried to connect and are in none of our shares (``status``)."""
        self._handshakes = trio.Semaphore(MAX_PENDING_HANDSHAKES)
        self._pending_rate = PendingRate()

    async def handshake(self, stream: trio.SocketStream) -> PeerChannel | None:
        """The authenticated channel of an incoming connection, None if it was refused
        (and closed): too many handshakes in flight, a failed handshake, or a device
        ``_authorize`` refused."""
        if not self._handshakes.value:
            await trio.aclose_forcefully(stream)  # too many handshakes in flight
            return None
        address = _address_of(stream)
        async with self._handshakes:
            try:
                with trio.fail_after(proto.HANDSHAKE_TIMEOUT_S):
                    channel = await handshake(
                        stream, role=proto.Role.SERVER, identity=self.identity,
                        device_name=self._config().device_name, authorize=self._authorize,
                        address=address,
                    )  # fmt: skip
            except (HandshakeError, trio.TooSlowError) as exc:
                log.info("connection from %s refused: %s", address, exc)
                await trio.aclose_forcefully(stream)
                return None
        return channel

    def _authorize(
        self, device: DeviceId, name: str, address: str, verifier: bytes | None = None
    ) -> str | None:
        if device == self.identity.device_id:
            return "self"
        if self._host.penalties.remaining(device):
            return "backoff"  # it exceeded a limit a moment ago (penalize)
        if self._host.paused:
            return "paused"
        if verifier is not None:  # it proved an invite's secret in this session
            membership = self._host.membership
            refusal = membership.accept_join(device, verifier) if membership else None
            if refusal is not None or membership is None:
                log.warning("join of %s from %s refused: %s", device.short(), address, refusal)
                return refusal or "bad-invite"
            self.pending.pop(device, None)
        if not self._is_member_anywhere(device):
            listed = self.pending.get(device)
            if listed is not None:
                listed.last_seen = time.time()
            elif len(self.pending) < MAX_PENDING_DEVICES and self._pending_rate.allow(
                time.monotonic()
            ):
                self.pending[device] = PeerInfo(device, name, address, time.time())
                self._host.events.publish(
                    "pending-device", device=str(device), name=name, address=address
                )
            return "unknown-device"
        return None

    def _is_member_anywhere(self, device: DeviceId) -> bool:
        config = self._config()
        return any(s.member(device) for s in config.shares) or config.peer(device) is not None


def _address_of(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
