"""TLS 1.3 transport and the authenticated handshake, over Trio streams.

Python's ``ssl`` cannot accept an unknown self-signed client certificate and then
report it, so authentication is split (docs/protocol.md):

- the client pins the server: the SHA-256 of the certificate the server presents in
  the TLS handshake must be the device ID it dialed;
- the client proves its own identity inside the session: it sends its certificate
  and a signature over a transcript binding both Hello nonces and both certificates,
  so the proof cannot be replayed on another connection or relayed by a third party.

A joining client (``join``: the secret of an invite code) also signs the session's
join transcript with the key derived from that secret (``net.invitekey``); the server
checks that proof here and hands ``authorize`` the invite's verifier only if it holds.

``handshake`` returns a ``PeerChannel`` only once both sides are authenticated; any
failure raises HandshakeError and no share data has been exchanged.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from p2psync import __version__
from p2psync.errors import P2PSyncError, PeerTimeoutError, RemoteProtocolError
from p2psync.ids import DeviceId
from p2psync.net.identity import Identity, verify_signature
from p2psync.net.invitekey import invite_verifier, sign_join, verify_join
from p2psync.net.rate import RateMeter
from p2psync.protocol import connection as proto
from p2psync.protocol import wire
from p2psync.protocol.auth import join_transcript
from p2psync.protocol.messages import JoinProof, PeerMessage

ALPN_PROTOCOL = "p2psync/1"
Authorize = Callable[[DeviceId, str, str, bytes | None], str | None]
"""(device, name, address, verified invite verifier or None) → None or a refusal code."""
RECEIVE_BYTES = 65536
GOODBYE_TIMEOUT_S = 2.0
LINGER_TIMEOUT_S = 1.0
LINGER_MAX_BYTES = 1024 * 1024


class HandshakeError(P2PSyncError):
    """A connection could not be authenticated. ``code`` says why (for status/logs)."""

    def __init__(self, message: str, code: str = "handshake-failed") -> None:
        super().__init__(message)
        self.code = code


def server_context(identity: Identity) -> ssl.SSLContext:
    """TLS 1.3 server context presenting our certificate; clients prove themselves later."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(identity.cert_path, identity.key_path)
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([ALPN_PROTOCOL])
    context.options |= ssl.OP_NO_TICKET
    return context


@functools.lru_cache(maxsize=8)
def _server_context_of(identity: Identity) -> ssl.SSLContext:
    """``server_context(identity)``, made once: building an OpenSSL context and loading
    the key and certificate from disk costs about 2 ms of CPU, which every accepted
    connection paid. A context is made to be shared by connections; nothing changes it
    after it is made. An identity is frozen, its certificate and key among its fields,
    so another identity (a new home in the same process) gets a context of its own."""
    return server_context(identity)


@functools.lru_cache(maxsize=1)
def _shared_client_context() -> ssl.SSLContext:
    """``client_context()``, made once for every dial (it depends on nothing)."""
    return client_context()


def client_context() -> ssl.SSLContext:
    """TLS 1.3 client context; the server certificate is pinned by device ID instead."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([ALPN_PROTOCOL])
    context.options |= ssl.OP_NO_TICKET
    return context


@dataclass
class PeerChannel:
    """An authenticated connection: send and receive sync messages."""

    device_id: DeviceId
    device_name: str
    version: int
    role: proto.Role
    stream: trio.SSLStream[trio.SocketStream]
    conn: proto.Connection
    address: str
    bytes_in: int = 0
    bytes_out: int = 0
    rate_in: RateMeter = field(default_factory=RateMeter)
    rate_out: RateMeter = field(default_factory=RateMeter)

    async def send(self, message: PeerMessage | wire.Ping | wire.Pong) -> None:
        """Write one message: ``write(frame(message))``."""
        await self.write(self.frame(message))

    def frame(self, message: PeerMessage | wire.Ping | wire.Pong) -> bytes:
        """The frame of ``message``, its place in the protocol taken: it must be
        written next (``write``), after the frames taken before it. Raises
        MessageTooLargeError (nothing changes then) or another LocalProtocolError."""
        return self.conn.send(message)

    async def write(self, data: bytes) -> None:
        """Write frames (``frame``) in one ``send_all``: frames written together make
        as few TLS records (up to 16 KiB each) and socket writes as their size allows,
        and the peer decrypts as few; counted in ``bytes_out`` and ``rate_out``."""
        self.bytes_out += len(data)
        self.rate_out.add(len(data))
        await self.stream.send_all(data)

    async def goodbye(self, code: str, message: str) -> None:
        """Say why we close, then close (best effort, never raises)."""
        await _close_quietly(self.stream, self.conn, code, message)

    async def next_event(self) -> proto.Event:
        """The next event from the peer; raises EOFError when the stream ends, and
        PeerTimeoutError when a frame that has begun takes longer than its budget
        (``Connection.frame_budget_s``): a peer stalling mid-frame is dropped."""
        frame_started: float | None = None
        while True:
            event = self.conn.next_event()
            if not isinstance(event, proto.NeedData):
                return event
            budget = self.conn.frame_budget_s()
            if budget is None:
                frame_started = None
                data = await self.stream.receive_some(RECEIVE_BYTES)
            else:
                if frame_started is None:
                    frame_started = trio.current_time()
                data = await self._receive_by(frame_started + budget, budget)
            if not data:
                raise EOFError("the peer closed the connection")
            self.bytes_in += len(data)
            self.rate_in.add(len(data))
            self.conn.receive_data(bytes(data))

    async def _receive_by(self, deadline: float, budget: float) -> bytes:
        with trio.move_on_at(deadline):
            return bytes(await self.stream.receive_some(RECEIVE_BYTES))
        raise PeerTimeoutError(f"a frame was not complete within {budget:.0f} s")


def _hello(identity_name: str) -> wire.Hello:
    return wire.Hello(proto.SUPPORTED_VERSIONS, identity_name, __version__, os.urandom(32))


async def handshake(
    stream: trio.SocketStream,
    *,
    role: proto.Role,
    identity: Identity,
    device_name: str,
    expected: DeviceId | None = None,
    authorize: Authorize | None = None,
    address: str = "",
    join: bytes | None = None,
) -> PeerChannel:
    """TLS, Hello and authentication. The caller bounds it with a deadline.

    ``expected`` (client) is the device we dialed; ``join`` (client) the secret of the
    invite we prove. ``authorize`` (server) is called with the proven device ID, its
    name and address, and the verifier of an invite whose proof holds in this session
    (None without one), and returns None to accept or a Goodbye code to refuse
    (unknown device, ourselves, ``bad-invite``...). Raises HandshakeError.
    """
    if role is proto.Role.CLIENT:
        context = _shared_client_context()
    else:
        context = _server_context_of(identity)
    tls = trio.SSLStream(stream, context, server_side=role is proto.Role.SERVER)
    conn = proto.Connection(role, _hello(device_name))
    try:
        await tls.do_handshake()
        if role is proto.Role.CLIENT:
            return await _client_side(tls, conn, identity, expected, address, join=join)
        return await _server_side(tls, conn, identity, authorize, address)
    except RemoteProtocolError as exc:
        await _close_quietly(tls, conn, exc.code, str(exc))
        raise HandshakeError(str(exc), exc.code) from exc
    except HandshakeError:
        await trio.aclose_forcefully(tls)
        raise
    except (
        trio.BrokenResourceError,
        trio.ClosedResourceError,
        ssl.SSLError,
        OSError,
        EOFError,
    ) as exc:
        await trio.aclose_forcefully(tls)
        raise HandshakeError(f"connection failed during the handshake: {exc}") from exc


async def _exchange_hellos(
    tls: trio.SSLStream[trio.SocketStream], conn: proto.Connection, peer: DeviceId, address: str
) -> PeerChannel:
    await tls.send_all(conn.start())
    channel = PeerChannel(peer, "", 0, conn.role, tls, conn, address)
    event = await channel.next_event()
    if not isinstance(event, proto.HelloReceived):
        raise HandshakeError(f"expected a hello, got {type(event).__name__}")
    channel.device_name, channel.version = event.hello.device_name, event.version
    return channel


async def _client_side(
    tls: trio.SSLStream[trio.SocketStream],
    conn: proto.Connection,
    identity: Identity,
    expected: DeviceId | None,
    address: str,
    *,
    join: bytes | None,
) -> PeerChannel:
    server_cert = tls.getpeercert(binary_form=True)
    if server_cert is None:
        raise HandshakeError("the server presented no certificate", "no-certificate")
    server_id = DeviceId.from_certificate_der(server_cert)
    if expected is not None and server_id != expected:
        message = f"{address} is device {server_id.short()}, not {expected.short()}"
        raise HandshakeError(message, "wrong-device")
    channel = await _exchange_hellos(tls, conn, server_id, address)
    transcript = conn.transcript(server_cert, identity.cert_der)
    proof = None
    if join is not None:
        proof = JoinProof(invite_verifier(join), sign_join(join, join_transcript(transcript)))
    await tls.send_all(conn.send_auth(identity.cert_der, identity.sign(transcript), join=proof))
    event = await channel.next_event()
    if isinstance(event, proto.Closed):
        raise HandshakeError(f"refused by the peer: {event.message}", event.code)
    if not isinstance(event, proto.Established):
        raise HandshakeError(f"expected auth-ok, got {type(event).__name__}")
    return channel


async def _server_side(
    tls: trio.SSLStream[trio.SocketStream],
    conn: proto.Connection,
    identity: Identity,
    authorize: Authorize | None,
    address: str,
) -> PeerChannel:
    channel = await _exchange_hellos(tls, conn, identity.device_id, address)
    event = await channel.next_event()
    if not isinstance(event, proto.AuthRequested):
        raise HandshakeError(f"expected auth, got {type(event).__name__}")
    transcript = conn.transcript(identity.cert_der, event.certificate)
    if not verify_signature(event.certificate, transcript, event.signature):
        await tls.send_all(conn.reject("bad-proof", "the proof of identity is invalid"))
        raise HandshakeError("the client's proof of identity is invalid", "bad-proof")
    channel.device_id = DeviceId.from_certificate_der(event.certificate)
    verifier = None
    if event.join is not None:
        if not verify_join(event.join.verifier, join_transcript(transcript), event.join.proof):
            await tls.send_all(conn.reject("bad-invite", "the invite proof is invalid"))
            raise HandshakeError("the client's invite proof is invalid", "bad-invite")
        verifier = event.join.verifier
    refusal = None
    if authorize is not None:
        refusal = authorize(channel.device_id, channel.device_name, address, verifier)
    if refusal is not None:
        await tls.send_all(conn.close(refusal, "not accepted by this device"))
        raise HandshakeError(f"refused device {channel.device_id.short()}: {refusal}", refusal)
    await tls.send_all(conn.accept())
    return channel


async def _close_quietly(
    tls: trio.SSLStream[trio.SocketStream], conn: proto.Connection, code: str, message: str
) -> None:
    """Send a Goodbye (for at most GOODBYE_TIMEOUT_S), then close the stream.

    Closing a socket that still holds unread input makes the kernel answer with a
    reset, and a reset discards the Goodbye the peer has not read yet: a peer sending
    a huge frame would never learn why it was dropped. So after the Goodbye the write
    side is shut and what the peer still sends is read and discarded (``_linger``).
    """
    try:
        with trio.move_on_after(GOODBYE_TIMEOUT_S) as sending:
            await tls.send_all(conn.close(code, message))
        if not sending.cancelled_caught:
            await _linger(tls.transport_stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError, OSError):
        pass
    except trio.BusyResourceError:
        pass  # the link's sender task is mid-write (a replaced duplicate): just close
    await trio.aclose_forcefully(tls)


async def _linger(stream: trio.SocketStream) -> None:
    """Shut our write side, then discard the peer's input until it closes, for at most
    LINGER_TIMEOUT_S and LINGER_MAX_BYTES (a peer cannot hold the close open)."""
    await stream.send_eof()
    discarded = 0
    with trio.move_on_after(LINGER_TIMEOUT_S):
        while discarded < LINGER_MAX_BYTES:
            data = await stream.receive_some(RECEIVE_BYTES)
            if not data:
                return
            discarded += len(data)
