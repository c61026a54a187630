"""The connection state machine: bytes in, events out; messages in, bytes out.

This module owns the order of a conversation (Hello both ways, the client's Auth, the
server's AuthOk, then sync messages, Goodbye at any time), the one table of which message
may be sent or received in which state (``_TRANSITIONS``), and the handshake and
keepalive deadlines. It must not know sockets, TLS, threads or any clock (time is passed
in as ``now``), how to verify a signature (the caller does, on AuthRequested), or
shares, docs and membership (the sync engine and the daemon decide).

States: HELLO → HELLO_SENT / HELLO_RECEIVED → AUTH → AUTH_SENT (client) or
AUTH_PENDING (server) → ESTABLISHED → CLOSED. Any RemoteProtocolError (including a
timeout) moves it to ERROR. In CLOSED and ERROR the state never changes again.
"""

from __future__ import annotations

import enum

from p2psync.errors import (
    LocalProtocolError,
    MalformedFrameError,
    MalformedMessageError,
    PeerTimeoutError,
    RemoteProtocolError,
    UnexpectedMessageError,
    VersionMismatchError,
)
from p2psync.protocol import wire
from p2psync.protocol.auth import AUTH_CONTEXT, auth_transcript
from p2psync.protocol.events import (
    EOF_CODE,
    NEED_DATA,
    AuthRequested,
    AwarenessReceived,
    Closed,
    DocErrorReceived,
    Established,
    Event,
    HelloReceived,
    MembersReceived,
    MessageReceived,
    NeedData,
    PingReceived,
    PongReceived,
)
from p2psync.protocol.frames import MAX_FRAME_BYTES, FrameDecoder, encode_frame
from p2psync.protocol.messages import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    Auth,
    AuthOk,
    Awareness,
    DocError,
    Goodbye,
    Hello,
    Index,
    IndexRequest,
    JoinProof,
    MemberList,
    Message,
    Ping,
    Pong,
    SyncStep1,
    SyncStep2,
    Update,
)

# The events and AUTH_CONTEXT were first defined here; the net layer reads them as
# ``connection.HelloReceived``..., so they stay exported.
__all__ = [
    "AUTH_CONTEXT",
    "FRAME_BASE_S",
    "FRAME_MIN_BYTES_PER_S",
    "HANDSHAKE_TIMEOUT_S",
    "IDLE_TIMEOUT_S",
    "MAX_HANDSHAKE_FRAME_BYTES",
    "NEED_DATA",
    "NO_COMMON_VERSION",
    "PING_INTERVAL_S",
    "SUPPORTED_VERSIONS",
    "AuthRequested",
    "AwarenessReceived",
    "Closed",
    "Connection",
    "DocErrorReceived",
    "Established",
    "Event",
    "HelloReceived",
    "MembersReceived",
    "MessageReceived",
    "NeedData",
    "PingReceived",
    "PongReceived",
    "Role",
    "State",
]

SUPPORTED_VERSIONS = (1, 2, 3)
"""The protocol versions this implementation speaks."""
MIN_VERSION: dict[type[Message], int] = {Awareness: 3}
"""Message types a connection of a lower negotiated version neither sends nor takes
(a peer that does not speak the version would fail on them with ``bad-message``)."""
HANDSHAKE_TIMEOUT_S = 20.0
"""From the Connection's creation to ESTABLISHED."""
PING_INTERVAL_S = 90.0
"""Send a Ping after this long without sending anything."""
IDLE_TIMEOUT_S = 300.0
"""Give up on a peer after this long without receiving anything."""
MAX_HANDSHAKE_FRAME_BYTES = 64 * 1024
"""The frame limit until ESTABLISHED: an unauthenticated peer cannot make us buffer
MAX_FRAME_BYTES."""
NO_COMMON_VERSION = "no-common-version"
FRAME_BASE_S = 30.0
FRAME_MIN_BYTES_PER_S = 64 * 1024
"""A frame that has begun must be complete within FRAME_BASE_S plus its announced
length at FRAME_MIN_BYTES_PER_S (30 s to about 4.5 min for the largest frame): a peer
trickling one byte every few seconds is dropped long before the idle timeout."""


class Role(enum.Enum):
    """Which end of the connection we are."""

    CLIENT = "client"  # dialed; proves its identity with Auth
    SERVER = "server"  # accepted; verifies the client's proof


class State(enum.Enum):
    """Where a conversation is (see the module docstring)."""

    HELLO = "hello"  # no Hello either way yet
    HELLO_SENT = "hello-sent"  # ours sent, the peer's awaited
    HELLO_RECEIVED = "hello-received"  # the peer's received, ours not sent yet
    AUTH = "auth"  # both Hellos done: the client's Auth is due
    AUTH_SENT = "auth-sent"  # (client) waiting for AuthOk
    AUTH_PENDING = "auth-pending"  # (server) the caller verifies and decides
    ESTABLISHED = "established"  # sync messages both ways
    CLOSED = "closed"  # a Goodbye was sent or received, or the stream ended
    ERROR = "error"  # the peer broke the protocol or timed out (``Connection.error``)


class _Dir(enum.Enum):
    SEND = "send"
    RECEIVE = "receive"


_TERMINAL = frozenset((State.CLOSED, State.ERROR))
_LIVE = [state for state in State if state not in _TERMINAL]
_ESTABLISHED_TYPES: tuple[type[Message], ...] = (
    IndexRequest, Index, SyncStep1, SyncStep2, Update, DocError, Ping, Pong, MemberList,
    Awareness,
)  # fmt: skip

# The whole protocol order: (role, state, direction, message type) -> next state.
# Anything not listed is a LocalProtocolError to send and an UnexpectedMessageError to
# receive. One exception, kept in ``_goodbye``: a Goodbye may still be sent once after
# CLOSED or ERROR (to tell the peer why), without changing the state.
_TRANSITIONS: dict[tuple[Role, State, _Dir, type[Message]], State] = {
    **{(role, State.HELLO, _Dir.SEND, Hello): State.HELLO_SENT for role in Role},
    **{(role, State.HELLO, _Dir.RECEIVE, Hello): State.HELLO_RECEIVED for role in Role},
    **{(role, State.HELLO_SENT, _Dir.RECEIVE, Hello): State.AUTH for role in Role},
    **{(role, State.HELLO_RECEIVED, _Dir.SEND, Hello): State.AUTH for role in Role},
    (Role.CLIENT, State.AUTH, _Dir.SEND, Auth): State.AUTH_SENT,
    (Role.CLIENT, State.AUTH_SENT, _Dir.RECEIVE, AuthOk): State.ESTABLISHED,
    (Role.SERVER, State.AUTH, _Dir.RECEIVE, Auth): State.AUTH_PENDING,
    (Role.SERVER, State.AUTH_PENDING, _Dir.SEND, AuthOk): State.ESTABLISHED,
    **{(role, State.ESTABLISHED, way, kind): State.ESTABLISHED
       for role in Role for way in _Dir for kind in _ESTABLISHED_TYPES},
    **{(role, state, way, Goodbye): State.CLOSED
       for role in Role for state in _LIVE for way in _Dir},
}  # fmt: skip


class Connection:
    """One side of one p2psync connection, sans I/O.

    ``hello`` is the Hello we send (``start``). ``certificate`` is our own certificate
    (DER); a server given it puts the exact signed transcript in AuthRequested.

    Time: nothing here reads a clock. Calls that can move a deadline take ``now``
    (seconds on the caller's monotonic clock, e.g. ``trio.current_time()``); a call
    without it counts as happening at the latest ``now`` seen, and the clock starts at
    the first ``now`` given, normally the constructor's.

    Errors: a RemoteProtocolError (the peer's fault; its ``code`` goes in a Goodbye,
    see ``close``) moves the connection to ERROR for good. A LocalProtocolError (our
    misuse) changes nothing and sends nothing.
    """

    def __init__(
        self,
        role: Role,
        hello: Hello,
        *,
        certificate: bytes | None = None,
        now: float | None = None,
    ) -> None:
        self.role = role
        self.state = State.HELLO
        self.our_hello = hello
        self.certificate = certificate
        self.peer_hello: Hello | None = None
        self.version: int | None = None
        """The negotiated protocol version, once the peer's Hello arrived."""
        self.error: RemoteProtocolError | None = None
        """What moved the connection to ERROR."""
        self._decoder = FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES)
        self._eof = False
        self._goodbye_sent = False
        self._now: float | None = None
        self._started = self._last_sent = self._last_received = 0.0
        self._tick(now)

    @property
    def closed(self) -> bool:
        """True in CLOSED and ERROR: no more events, nothing more to send but a Goodbye."""
        return self.state in _TERMINAL

    # -- sending -----------------------------------------------------------------------

    def start(self, *, now: float | None = None) -> bytes:
        """Our Hello: the first frame each side sends."""
        return self.send(self.our_hello, now=now)

    def send_auth(
        self,
        certificate: bytes,
        signature: bytes,
        *,
        join: JoinProof | None = None,
        now: float | None = None,
    ) -> bytes:
        """(Client) our certificate and our signature over ``transcript``, and the
        proof of an invite secret when we join a share."""
        return self.send(Auth(certificate, signature, join), now=now)

    def accept(self, *, now: float | None = None) -> bytes:
        """(Server) accept the client's proof (AuthOk); the connection is ESTABLISHED."""
        return self.send(AuthOk(), now=now)

    def reject(self, code: str, message: str, *, now: float | None = None) -> bytes:
        """(Server) refuse the client (unknown device, bad proof...): a Goodbye."""
        return self.close(code, message, now=now)

    def close(self, code: str, message: str, *, now: float | None = None) -> bytes:
        """A Goodbye saying why we close (``code`` of a RemoteProtocolError, usually).

        Allowed in any state, even after an error, but only once: later calls return
        b"". The Goodbye for NO_COMMON_VERSION lists the versions we speak. Close the
        stream after sending it.
        """
        versions = self.our_hello.versions if code == NO_COMMON_VERSION else ()
        goodbye = Goodbye(code[:MAX_NAME_CHARS], message[:MAX_TEXT_CHARS], versions)
        return self.send(goodbye, now=now)

    def send(self, message: Message, *, now: float | None = None) -> bytes:
        """The bytes of ``message``, if the protocol allows us to send it now.

        Raises LocalProtocolError if it does not (a sync message before ESTABLISHED, a
        Hello other than ours...), or if the message is invalid; MessageTooLargeError if
        it does not fit in a frame. Nothing changes then.
        """
        if isinstance(message, Hello) and message != self.our_hello:
            raise LocalProtocolError("the Hello sent must be the one the Connection was made with")
        self._tick(now)
        if isinstance(message, Goodbye):
            return self._goodbye(message)
        following = _TRANSITIONS.get((self.role, self.state, _Dir.SEND, type(message)))
        if following is None or not self.speaks(type(message)):
            raise LocalProtocolError(
                f"{self.role.value} cannot send {type(message).__name__} "
                f"in state {self.state.value}"
            )
        data = _encode(message)
        self._enter(following)
        self._last_sent = self._clock
        return data

    def _goodbye(self, goodbye: Goodbye) -> bytes:
        if self._goodbye_sent:
            return b""
        data = _encode(goodbye)
        self._goodbye_sent = True
        following = _TRANSITIONS.get((self.role, self.state, _Dir.SEND, Goodbye))
        if following is not None:  # None once CLOSED or in ERROR: the state stays
            self._enter(following)
        return data

    def speaks(self, kind: type[Message]) -> bool:
        """Whether the negotiated version has message type ``kind`` (``MIN_VERSION``)."""
        return (self.version or 0) >= MIN_VERSION.get(kind, 0)

    def transcript(self, server_certificate: bytes, client_certificate: bytes) -> bytes:
        """What the client signs (``auth.auth_transcript``), from both Hellos' nonces.

        Raises LocalProtocolError before the peer's Hello arrived.
        """
        if self.peer_hello is None:
            raise LocalProtocolError("no Hello received yet")
        server, client = (
            (self.our_hello, self.peer_hello)
            if self.role is Role.SERVER
            else (self.peer_hello, self.our_hello)
        )
        return auth_transcript(
            server_nonce=server.nonce,
            client_nonce=client.nonce,
            server_certificate=server_certificate,
            client_certificate=client_certificate,
        )

    # -- receiving ---------------------------------------------------------------------

    def receive_data(self, data: bytes, *, now: float | None = None) -> None:
        """Bytes from the peer; ``b""`` means the peer closed its end (EOF).

        Ignored once CLOSED or ERROR. Raises FrameTooLargeError (ERROR) as soon as a
        frame announces a length over the limit; LocalProtocolError for data after EOF,
        or if more than MAX_BUFFER_BYTES pile up without calling ``next_event``.
        """
        if self.closed:
            return
        if self._eof and data:
            raise LocalProtocolError("data received after the end of the stream")
        self._tick(now)
        if not data:
            self._eof = True
            return
        self._last_received = self._clock
        try:
            self._decoder.receive_data(data)
        except RemoteProtocolError as exc:
            raise self._fail(exc) from None

    def next_event(self) -> Event | NeedData:
        """The next event, or NEED_DATA until more bytes arrive.

        Raises a RemoteProtocolError for anything the peer may not send now, moving to
        ERROR; in ERROR every call raises that error again. In CLOSED returns NEED_DATA.
        """
        if self.error is not None:
            raise self.error
        if self.state is State.CLOSED:
            return NEED_DATA
        try:
            body = self._decoder.next_frame()
            if body is None:
                return self._end_of_stream() if self._eof else NEED_DATA
            kind = wire.message_type(body)
            following = _TRANSITIONS.get((self.role, self.state, _Dir.RECEIVE, kind))
            if following is None or not self.speaks(kind):
                raise UnexpectedMessageError(
                    f"the peer sent {kind.__name__} to the {self.role.value} "
                    f"in state {self.state.value}"
                )
            event = self._on_message(wire.decode(body))
        except RemoteProtocolError as exc:
            raise self._fail(exc) from None
        self._enter(following)
        return event

    def _on_message(self, message: Message) -> Event:
        """The event for a message the table allows; raises RemoteProtocolError."""
        match message:
            case Hello():
                return self._on_hello(message)
            case Auth():
                transcript = None
                if self.certificate is not None:
                    transcript = self.transcript(self.certificate, message.certificate)
                return AuthRequested(
                    message.certificate, message.signature, transcript, message.join
                )
            case AuthOk():
                return Established()
            case Goodbye():
                return Closed(message.code, message.message, message.versions)
            case Ping():
                return PingReceived()
            case Pong():
                return PongReceived()
            case DocError():
                return DocErrorReceived(message)
            case MemberList():
                return MembersReceived(message)
            case Awareness():
                return AwarenessReceived(message)
            case _:
                return MessageReceived(message)

    def _on_hello(self, hello: Hello) -> HelloReceived:
        common = set(hello.versions) & set(self.our_hello.versions)
        if not common:
            raise VersionMismatchError(self.our_hello.versions, hello.versions)
        if hello.nonce == self.our_hello.nonce:
            raise MalformedMessageError("the peer's Hello repeats our nonce", "reflected-hello")
        self.peer_hello = hello
        self.version = max(common)
        return HelloReceived(hello, self.version)

    def _end_of_stream(self) -> Closed:
        if self._decoder.buffered:
            raise MalformedFrameError(
                f"the stream ended inside a frame ({self._decoder.buffered} bytes of it)",
                "truncated",
            )
        self._enter(State.CLOSED)
        return Closed(EOF_CODE, "the peer closed the connection without a Goodbye")

    def frame_budget_s(self) -> float | None:
        """How long the frame that has begun arriving may take in all, or None when no
        partial frame is buffered (the caller times the rest; see FRAME_BASE_S)."""
        if not self._decoder.buffered:
            return None
        return FRAME_BASE_S + self._decoder.announced / FRAME_MIN_BYTES_PER_S

    # -- time --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When ``check_timeouts`` must next be called (on the caller's clock), or None
        when CLOSED, in ERROR, or before any ``now`` was given."""
        if self.closed or self._now is None:
            return None
        if self.state is not State.ESTABLISHED:
            return self._started + HANDSHAKE_TIMEOUT_S
        return min(self._last_sent + PING_INTERVAL_S, self._last_received + IDLE_TIMEOUT_S)

    def check_timeouts(self, now: float) -> bytes:
        """What the passing of time requires at ``now``: the bytes of a Ping when we have
        sent nothing for PING_INTERVAL_S, else b"".

        Raises PeerTimeoutError (ERROR; send its Goodbye) if the handshake is not done
        HANDSHAKE_TIMEOUT_S after the start, or nothing arrived for IDLE_TIMEOUT_S.
        """
        self._tick(now)
        if self.closed:
            return b""
        if self.state is not State.ESTABLISHED:
            if self._clock >= self._started + HANDSHAKE_TIMEOUT_S:
                raise self._fail(PeerTimeoutError(
                    f"the handshake did not finish within {HANDSHAKE_TIMEOUT_S:g} s"
                ))  # fmt: skip
            return b""
        if self._clock >= self._last_received + IDLE_TIMEOUT_S:
            raise self._fail(PeerTimeoutError(f"nothing received for {IDLE_TIMEOUT_S:g} s"))
        if self._clock >= self._last_sent + PING_INTERVAL_S:
            return self.send(Ping())
        return b""

    def _tick(self, now: float | None) -> None:
        if now is None:
            return
        if self._now is None:
            self._started = self._last_sent = self._last_received = now
        self._now = now if self._now is None else max(self._now, now)

    @property
    def _clock(self) -> float:
        return self._started if self._now is None else self._now

    # -- state -------------------------------------------------------------------------

    def _enter(self, state: State) -> None:
        self.state = state
        if state is State.ESTABLISHED:
            self._decoder.max_frame_bytes = MAX_FRAME_BYTES

    def _fail(self, error: RemoteProtocolError) -> RemoteProtocolError:
        """Move to ERROR (unless already CLOSED or failed) and return ``error``."""
        if not self.closed:
            self.state = State.ERROR
            self.error = error
        return error


def _encode(message: Message) -> bytes:
    """The frame of ``message``, refusing what the peer would reject: we never send
    what we would not accept. Raises LocalProtocolError or MessageTooLargeError."""
    body = wire.encode(message)
    try:
        wire.decode(body)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"refusing to send an invalid message: {exc}") from None
    return encode_frame(body)
