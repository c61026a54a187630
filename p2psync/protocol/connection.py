"""The connection state machine: bytes in, events out; messages in, bytes out.

This module owns the order of a conversation (Hello, then authentication, then sync
messages) and the one table of which message may arrive in which state. It knows
nothing of sockets, TLS, clocks, certificates or shares: the caller verifies the
client's proof (``AuthRequested``) and decides whether a device may sync.

States: HELLO → AUTH → (server: AUTH_PENDING) → ESTABLISHED → CLOSED. After an
error or a Goodbye the machine is CLOSED and changes no more.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from p2psync.errors import LocalProtocolError, RemoteProtocolError
from p2psync.protocol import wire
from p2psync.protocol.frames import FrameDecoder, encode_frame
from p2psync.protocol.messages import Index, IndexRequest, SyncMessage, SyncStep1, SyncStep2, Update

SUPPORTED_VERSIONS = (1,)
HANDSHAKE_TIMEOUT_S = 20.0
PING_INTERVAL_S = 90.0
IDLE_TIMEOUT_S = 300.0
AUTH_CONTEXT = b"p2psync-auth-v1"


class Role(enum.Enum):
    CLIENT = "client"  # dialed the connection
    SERVER = "server"  # accepted it


class State(enum.Enum):
    HELLO = "hello"
    AUTH = "auth"
    AUTH_PENDING = "auth-pending"
    ESTABLISHED = "established"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class HelloReceived:
    """The peer's Hello; ``version`` is the highest version both sides speak."""

    hello: wire.Hello
    version: int


@dataclass(frozen=True, slots=True)
class AuthRequested:
    """(Server) the client's proof: verify ``signature`` over ``transcript`` with the key
    of ``certificate``, then call ``accept()`` or ``close()``."""

    certificate: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Established:
    """(Client) the server accepted our proof: sync messages may flow."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A sync message from an authenticated peer."""

    message: SyncMessage


@dataclass(frozen=True, slots=True)
class PingReceived:
    """The peer wants a Pong."""


@dataclass(frozen=True, slots=True)
class PongReceived:
    """Answer to our Ping."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer said Goodbye."""

    code: str
    message: str


class NeedData(enum.Enum):
    NEED_DATA = "need-data"


NEED_DATA = NeedData.NEED_DATA
Event = (
    HelloReceived
    | AuthRequested
    | Established
    | MessageReceived
    | PingReceived
    | PongReceived
    | Closed
)
_SYNC_TYPES = (IndexRequest, Index, SyncStep1, SyncStep2, Update)


class Connection:
    """One side of one p2psync connection."""

    def __init__(self, role: Role, hello: wire.Hello) -> None:
        self.role = role
        self.state = State.HELLO
        self.our_hello = hello
        self.peer_hello: wire.Hello | None = None
        self.version: int | None = None
        self._decoder = FrameDecoder()
        self._hello_sent = False

    # -- sending -----------------------------------------------------------------

    def start(self) -> bytes:
        """Our Hello: the first bytes each side sends."""
        if self._hello_sent:
            raise LocalProtocolError("hello already sent")
        self._hello_sent = True
        return encode_frame(wire.encode(self.our_hello))

    def send_auth(self, certificate: bytes, signature: bytes) -> bytes:
        """(Client) our proof, once the server's Hello arrived."""
        self._require(Role.CLIENT, State.AUTH, "send auth")
        return encode_frame(wire.encode(wire.Auth(certificate, signature)))

    def accept(self) -> bytes:
        """(Server) accept the client's proof; sync may start."""
        self._require(Role.SERVER, State.AUTH_PENDING, "accept")
        self.state = State.ESTABLISHED
        return encode_frame(wire.encode(wire.AuthOk()))

    def send(self, message: SyncMessage | wire.Ping | wire.Pong) -> bytes:
        """A sync message or keepalive. Raises LocalProtocolError before ESTABLISHED."""
        if self.state is not State.ESTABLISHED:
            raise LocalProtocolError(
                f"cannot send {type(message).__name__} in state {self.state.value}"
            )
        return encode_frame(wire.encode(message))

    def close(self, code: str, message: str) -> bytes:
        """A Goodbye; the connection is closed afterwards."""
        self.state = State.CLOSED
        return encode_frame(wire.encode(wire.Goodbye(code, message[: wire.MAX_TEXT_CHARS])))

    def transcript(self, server_cert: bytes, client_cert: bytes) -> bytes:
        """What the client signs: binds both nonces and both certificates, so a proof
        cannot be replayed on another connection or relayed by a man in the middle."""
        if self.peer_hello is None:
            raise LocalProtocolError("no hello received yet")
        server, client = (
            (self.our_hello, self.peer_hello)
            if self.role is Role.SERVER
            else (self.peer_hello, self.our_hello)
        )
        return b"".join((
            AUTH_CONTEXT,
            server.nonce,
            client.nonce,
            hashlib.sha256(server_cert).digest(),
            hashlib.sha256(client_cert).digest(),
        ))  # fmt: skip

    # -- receiving ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the peer. Raises RemoteProtocolError (and closes) on an
        oversized frame announcement."""
        if self.state is State.CLOSED:
            return
        try:
            self._decoder.receive_data(data)
        except RemoteProtocolError:
            self.state = State.CLOSED
            raise

    def next_event(self) -> Event | NeedData:
        """The next event, or NEED_DATA. Raises RemoteProtocolError for anything the
        peer may not send now; the machine is CLOSED afterwards."""
        if self.state is State.CLOSED:
            return NEED_DATA
        try:
            body = self._decoder.next_frame()
            if body is None:
                return NEED_DATA
            message = wire.decode(body)
            return self._transition(message)
        except RemoteProtocolError:
            self.state = State.CLOSED
            raise

    def _transition(self, message: wire.Message) -> Event:
        if isinstance(message, wire.Goodbye):
            self.state = State.CLOSED
            return Closed(message.code, message.message)
        handler = _TRANSITIONS.get((self.role, self.state, type(message)))
        if handler is None:
            raise RemoteProtocolError(
                f"{type(message).__name__} not allowed in state {self.state.value}", "unexpected"
            )
        return handler(self, message)

    def _on_hello(self, message: wire.Message) -> Event:
        assert isinstance(message, wire.Hello)
        common = set(message.versions) & set(self.our_hello.versions)
        if not common:
            ours = ", ".join(map(str, self.our_hello.versions))
            theirs = ", ".join(map(str, message.versions)) or "none"
            raise RemoteProtocolError(
                f"no common protocol version (we speak {ours}, the peer {theirs})",
                "no-common-version",
            )
        self.peer_hello = message
        self.version = max(common)
        self.state = State.AUTH
        return HelloReceived(message, self.version)

    def _on_auth(self, message: wire.Message) -> Event:
        assert isinstance(message, wire.Auth)
        self.state = State.AUTH_PENDING
        return AuthRequested(message.certificate, message.signature)

    def _on_auth_ok(self, message: wire.Message) -> Event:
        self.state = State.ESTABLISHED
        return Established()

    def _on_sync(self, message: wire.Message) -> Event:
        assert isinstance(message, _SYNC_TYPES)
        return MessageReceived(message)

    def _on_ping(self, message: wire.Message) -> Event:
        return PingReceived()

    def _on_pong(self, message: wire.Message) -> Event:
        return PongReceived()

    def _require(self, role: Role, state: State, action: str) -> None:
        if self.role is not role or self.state is not state:
            raise LocalProtocolError(
                f"{self.role.value} cannot {action} in state {self.state.value}"
            )


_Handler = Callable[[Connection, wire.Message], Event]
_TRANSITIONS: dict[tuple[Role, State, type], _Handler] = {
    (Role.CLIENT, State.HELLO, wire.Hello): Connection._on_hello,
    (Role.SERVER, State.HELLO, wire.Hello): Connection._on_hello,
    (Role.SERVER, State.AUTH, wire.Auth): Connection._on_auth,
    (Role.CLIENT, State.AUTH, wire.AuthOk): Connection._on_auth_ok,
    **{(role, State.ESTABLISHED, kind): Connection._on_sync
       for role in Role for kind in _SYNC_TYPES},
    **{(role, State.ESTABLISHED, wire.Ping): Connection._on_ping for role in Role},
    **{(role, State.ESTABLISHED, wire.Pong): Connection._on_pong for role in Role},
}  # fmt: skip
