"""Two real connection state machines joined by a fake wire: handshake, authentication,
the transition rules, malformed input, closing, and deadlines."""

from __future__ import annotations

import os
import struct
from typing import Any

import msgpack
import pytest

from p2psync.errors import (
    FrameTooLargeError,
    LocalProtocolError,
    MalformedFrameError,
    MalformedMessageError,
    MalformedYjsError,
    MessageTooLargeError,
    PeerTimeoutError,
    RemoteProtocolError,
    UnexpectedMessageError,
    VersionMismatchError,
)
from p2psync.protocol import (
    EOF_CODE,
    HANDSHAKE_TIMEOUT_S,
    IDLE_TIMEOUT_S,
    MAX_FRAME_BYTES,
    MAX_HANDSHAKE_FRAME_BYTES,
    NEED_DATA,
    PING_INTERVAL_S,
    AuthRequested,
    Closed,
    Connection,
    DocError,
    DocErrorReceived,
    Established,
    Goodbye,
    Hello,
    HelloReceived,
    IndexRequest,
    MessageReceived,
    Ping,
    PingReceived,
    Pong,
    PongReceived,
    Role,
    State,
    SyncMessage,
    SyncStep1,
    SyncStep2,
    Update,
    auth_transcript,
    wire,
)
from tests.support.connections import CLIENT_ID, MALLORY_ID, SERVER_ID, drain, feed, verify

SHARE = b"s" * 16


def hello(versions: tuple[int, ...] = (1,), name: str = "dev") -> Hello:
    return Hello(versions, name, "0.1", os.urandom(32))


def pair(now: float = 0.0) -> tuple[Connection, Connection]:
    client = Connection(Role.CLIENT, hello(), certificate=CLIENT_ID.cert, now=now)
    server = Connection(Role.SERVER, hello(), certificate=SERVER_ID.cert, now=now)
    return client, server


def established(chunk: int = 0, now: float = 0.0) -> tuple[Connection, Connection]:
    """A client and a server through the whole handshake, checking each step."""
    client, server = pair(now)
    [s_hello] = feed(server, client.start(), chunk=chunk)
    assert server.state is State.HELLO_RECEIVED
    [c_hello] = feed(client, server.start(), chunk=chunk)
    assert s_hello == HelloReceived(client.our_hello, 1)
    assert c_hello == HelloReceived(server.our_hello, 1)
    assert (client.state, server.state) == (State.AUTH, State.AUTH)
    transcript = client.transcript(SERVER_ID.cert, CLIENT_ID.cert)
    proof = client.send_auth(CLIENT_ID.cert, CLIENT_ID.sign(transcript))
    [auth] = feed(server, proof, chunk=chunk)
    assert isinstance(auth, AuthRequested)
    assert (client.state, server.state) == (State.AUTH_SENT, State.AUTH_PENDING)
    assert auth.transcript == transcript
    assert verify(auth.certificate, auth.transcript, auth.signature)
    assert feed(client, server.accept(), chunk=chunk) == [Established()]
    assert (client.state, server.state) == (State.ESTABLISHED, State.ESTABLISHED)
    return client, server


@pytest.mark.parametrize("chunk", [0, 1, 7])
def test_handshake_then_messages_both_ways(chunk: int) -> None:
    client, server = established(chunk)
    messages: list[SyncMessage] = [IndexRequest(SHARE, b"", 0), SyncStep1(SHARE, "a.md", b"\x00"),
                Update(SHARE, "b.md", [b"u1", b"u2"])]  # fmt: skip
    data = b"".join(client.send(m) for m in messages)
    assert feed(server, data, chunk=chunk) == [MessageReceived(m) for m in messages]
    reply = server.send(SyncStep2(SHARE, "a.md", b"\x00\x00")) + server.send(Ping())
    assert feed(client, reply, chunk=chunk) == [
        MessageReceived(SyncStep2(SHARE, "a.md", b"\x00\x00")),
        PingReceived(),
    ]
    assert feed(server, client.send(Pong())) == [PongReceived()]
    error = DocError(SHARE, "b.md", "bad-update", "not a Yjs v1 update")
    assert feed(client, server.send(error)) == [DocErrorReceived(error)]


def test_highest_common_version_is_chosen() -> None:
    client = Connection(Role.CLIENT, hello((1, 2, 3)))
    server = Connection(Role.SERVER, hello((5, 3, 2)))
    [on_server] = feed(server, client.start())
    [on_client] = feed(client, server.start())
    assert isinstance(on_server, HelloReceived)
    assert isinstance(on_client, HelloReceived)
    assert on_server.version == on_client.version == server.version == client.version == 3


@pytest.mark.parametrize("theirs", [(2, 3), (99,), ()])
def test_no_common_version_is_a_typed_error_on_both_sides(theirs: tuple[int, ...]) -> None:
    client = Connection(Role.CLIENT, hello((1,)))
    server = Connection(Role.SERVER, hello(theirs))
    to_server, to_client = client.start(), server.start()
    goodbyes = {}
    for conn, data in ((server, to_server), (client, to_client)):
        with pytest.raises(VersionMismatchError, match="no common protocol version") as info:
            feed(conn, data)
        assert info.value.code == "no-common-version"
        assert conn.state is State.ERROR
        assert conn.error is info.value
        goodbyes[conn.role] = conn.close(info.value.code, str(info.value))
    assert client.error is not None
    assert isinstance(client.error, VersionMismatchError)
    assert (client.error.ours, client.error.theirs) == ((1,), theirs)
    # A peer that refused before reading our Hello shows the versions it speaks.
    fresh = Connection(Role.SERVER, hello((1,)))
    [closed] = feed(fresh, goodbyes[Role.CLIENT])
    assert closed == Closed("no-common-version", str(client.error), (1,))


def test_auth_rejected_by_the_server() -> None:
    client, server = pair()
    feed(server, client.start())
    feed(client, server.start())
    forged = client.send_auth(MALLORY_ID.cert, CLIENT_ID.sign(b"anything"))
    [auth] = feed(server, forged)
    assert isinstance(auth, AuthRequested)
    assert auth.transcript is not None
    assert not verify(auth.certificate, auth.transcript, auth.signature)
    with pytest.raises(LocalProtocolError):
        server.send(IndexRequest(SHARE, b"", 0))
    assert feed(client, server.reject("bad-proof", "invalid signature")) == [
        Closed("bad-proof", "invalid signature")
    ]
    assert client.state is server.state is State.CLOSED


def test_a_proof_cannot_be_replayed_on_another_connection() -> None:
    client, server = pair()
    feed(server, client.start())
    feed(client, server.start())
    signature = CLIENT_ID.sign(client.transcript(SERVER_ID.cert, CLIENT_ID.cert))
    replayer, victim = pair()  # fresh nonces
    feed(victim, replayer.start())
    feed(replayer, victim.start())
    [auth] = feed(victim, replayer.send_auth(CLIENT_ID.cert, signature))
    assert isinstance(auth, AuthRequested)
    assert auth.transcript is not None
    assert not verify(auth.certificate, auth.transcript, auth.signature)


def test_transcript_layout() -> None:
    transcript = auth_transcript(
        server_nonce=b"S" * 32, client_nonce=b"C" * 32,
        server_certificate=b"s", client_certificate=b"c",
    )  # fmt: skip
    assert transcript.startswith(b"p2psync-auth-v1" + b"S" * 32 + b"C" * 32)
    assert len(transcript) == len(b"p2psync-auth-v1") + 64 + 64


def test_without_its_certificate_the_server_leaves_the_transcript_to_the_caller() -> None:
    client = Connection(Role.CLIENT, hello())
    server = Connection(Role.SERVER, hello())
    feed(server, client.start())
    feed(client, server.start())
    [auth] = feed(server, client.send_auth(b"cert", b"sig"))
    assert auth == AuthRequested(b"cert", b"sig", None)
    assert server.transcript(b"S", b"C") == client.transcript(b"S", b"C")


def test_local_misuse_changes_nothing() -> None:
    client, server = pair()
    with pytest.raises(LocalProtocolError, match="cannot send Auth"):
        client.send_auth(b"c", b"s")
    with pytest.raises(LocalProtocolError):
        client.transcript(b"s", b"c")
    with pytest.raises(LocalProtocolError, match="the one the Connection was made with"):
        client.send(hello())
    feed(server, client.start())
    with pytest.raises(LocalProtocolError):
        client.start()
    with pytest.raises(LocalProtocolError):
        server.accept()  # no Auth yet
    with pytest.raises(LocalProtocolError):
        server.send(Update(SHARE, "d", [b"x"]))
    assert (client.state, server.state) == (State.HELLO_SENT, State.HELLO_RECEIVED)
    client, server = established()
    with pytest.raises(LocalProtocolError, match="invalid message"):
        client.send(SyncStep1(SHARE, "x" * 151, b"\x00"))
    with pytest.raises(LocalProtocolError, match="invalid message"):
        client.send(SyncStep1(SHARE, "d", b"\x01"))
    with pytest.raises(MessageTooLargeError):
        client.send(SyncStep2(SHARE, "d", b"\x00" * MAX_FRAME_BYTES))
    assert client.state is State.ESTABLISHED
    assert feed(server, client.send(Ping())) == [PingReceived()]


def frame(body: object) -> bytes:
    payload: bytes = msgpack.packb(body)
    return struct.pack(">I", len(payload)) + payload


def body_of(message: Any, **changes: Any) -> dict[str, Any]:
    return wire.encode(message) | changes


S1 = SyncStep1(SHARE, "a", b"\x00")
MALFORMED: dict[str, tuple[bytes, type[RemoteProtocolError], str]] = {
    "not msgpack": (struct.pack(">I", 3) + b"\xc1\xc1\xc1", MalformedFrameError, "bad-frame"),
    "not a map": (frame([1, 2]), MalformedFrameError, "bad-frame"),
    "empty body": (struct.pack(">I", 0), MalformedFrameError, "bad-frame"),
    "unknown type": (frame({"t": "nope"}), MalformedMessageError, "bad-message"),
    "wrong field type": (frame(body_of(Update(SHARE, "x", [b"u"]), u="text")),
                         MalformedMessageError, "bad-message"),
    "bad share id": (frame(body_of(S1, s=b"short")), MalformedMessageError, "bad-message"),
    "empty guid": (frame(body_of(S1, d="")), MalformedMessageError, "bad-message"),
    "bool as int": (frame(body_of(IndexRequest(SHARE, b"", 0), since=True)),
                    MalformedMessageError, "bad-message"),
    "bad state vector": (frame(body_of(S1, sv=b"\x05\x01")), MalformedYjsError, "bad-yjs"),
    "hello again": (frame(wire.encode(hello())), UnexpectedMessageError, "unexpected-message"),
    "auth again": (frame(wire.encode(wire.Auth(b"c", b"s"))), UnexpectedMessageError,
                   "unexpected-message"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_frames_are_typed_errors_and_final(name: str) -> None:
    data, error, code = MALFORMED[name]
    _, server = established()
    with pytest.raises(error) as info:
        feed(server, data)
    assert info.value.code == code
    assert_failed_for_good(server, info.value)


def assert_failed_for_good(conn: Connection, error: RemoteProtocolError) -> None:
    assert conn.state is State.ERROR
    assert conn.error is error
    assert conn.closed
    conn.receive_data(frame(wire.encode(Ping())))  # ignored
    with pytest.raises(type(error)):
        conn.next_event()  # the same error again, and no state change
    with pytest.raises(LocalProtocolError):
        conn.send(Ping())
    assert conn.check_timeouts(1e9) == b""
    assert conn.next_deadline() is None
    goodbye = conn.close(error.code, str(error))  # still allowed: tells the peer why
    [closed] = feed(Connection(Role.CLIENT, hello()), goodbye)
    assert isinstance(closed, Closed)
    assert (closed.code, closed.message) == (error.code, str(error)[:1000])
    assert conn.close(error.code, str(error)) == b""  # only one Goodbye
    assert conn.state is State.ERROR


@pytest.mark.parametrize("state", ["hello", "auth", "auth-sent"])
def test_doc_frames_before_authentication_are_refused(state: str) -> None:
    client, server = pair()
    sneaky = frame(wire.encode(Update(SHARE, "d", [b"u"])))
    target = server
    if state != "hello":
        feed(server, client.start())
        feed(client, server.start())
    if state == "auth-sent":
        feed(server, client.send_auth(b"c", b"s"))
        target = client
    with pytest.raises(UnexpectedMessageError, match="Update") as info:
        feed(target, sneaky)
    assert_failed_for_good(target, info.value)


def test_client_may_not_send_auth_ok_nor_server_auth() -> None:
    client, server = pair()
    feed(server, client.start())
    feed(client, server.start())
    with pytest.raises(UnexpectedMessageError):
        feed(client, frame(wire.encode(wire.Auth(b"c", b"s"))))
    with pytest.raises(UnexpectedMessageError):
        feed(server, frame(wire.encode(wire.AuthOk())))


def test_oversized_frames_are_refused_before_the_body_arrives() -> None:
    _, server = pair()
    with pytest.raises(FrameTooLargeError) as info:
        server.receive_data(struct.pack(">I", MAX_HANDSHAKE_FRAME_BYTES + 1))
    assert info.value.code == "frame-too-large"
    assert_failed_for_good(server, info.value)
    _, server = established()
    server.receive_data(struct.pack(">I", MAX_HANDSHAKE_FRAME_BYTES + 1))  # fine now
    _, server = established()
    with pytest.raises(FrameTooLargeError):
        server.receive_data(struct.pack(">I", MAX_FRAME_BYTES + 1))


def test_reflected_hello_is_refused() -> None:
    client = Connection(Role.CLIENT, hello())
    with pytest.raises(MalformedMessageError, match="repeats our nonce"):
        feed(client, client.start())


def test_truncated_frame_waits_then_fails_at_end_of_stream() -> None:
    client, server = established()
    data = client.send(SyncStep1(SHARE, "a", b"\x00"))
    server.receive_data(data[:-1])
    assert server.next_event() is NEED_DATA
    server.receive_data(b"")
    with pytest.raises(MalformedFrameError, match="ended inside a frame") as info:
        server.next_event()
    assert info.value.code == "truncated"
    assert server.state is State.ERROR


def test_end_of_stream_between_frames_is_a_close() -> None:
    client, server = established()
    server.receive_data(client.send(Ping()))
    server.receive_data(b"")
    [ping, closed] = drain(server)
    assert ping == PingReceived()
    assert isinstance(closed, Closed)
    assert closed.code == EOF_CODE
    assert server.state is State.CLOSED
    assert server.next_event() is NEED_DATA


def test_data_after_end_of_stream_is_our_bug() -> None:
    server = Connection(Role.SERVER, hello())
    server.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="after the end"):
        server.receive_data(b"x")


def test_goodbye_closes_both_sides() -> None:
    client, server = established()
    bye = client.close("shutdown", "the daemon is stopping")
    assert client.state is State.CLOSED
    assert client.close("again", "") == b""
    assert feed(server, bye + client.send(Goodbye("x", "y"))) == [
        Closed("shutdown", "the daemon is stopping")
    ]
    assert server.state is State.CLOSED
    assert server.next_event() is NEED_DATA
    server.receive_data(b"ignored")
    assert server.next_event() is NEED_DATA
    with pytest.raises(LocalProtocolError):
        server.send(Ping())
    assert server.close("bye", "answering") != b""  # a Goodbye may still be sent once
    assert server.state is State.CLOSED


def test_goodbye_text_is_cut_to_the_limits() -> None:
    client, server = established()
    [closed] = feed(server, client.close("c" * 100, "m" * 5000))
    assert closed == Closed("c" * 64, "m" * 1000)


# -- deadlines ------------------------------------------------------------------------


def test_handshake_deadline() -> None:
    client, server = pair(now=100.0)
    assert server.next_deadline() == 100.0 + HANDSHAKE_TIMEOUT_S
    feed(server, client.start(now=105.0), now=105.0)
    assert server.check_timeouts(119.9) == b""
    with pytest.raises(PeerTimeoutError, match="handshake") as info:
        server.check_timeouts(120.0)
    assert info.value.code == "timeout"
    assert_failed_for_good(server, info.value)


def test_established_in_time_has_no_handshake_deadline() -> None:
    _, server = established(now=100.0)
    assert server.next_deadline() == 100.0 + PING_INTERVAL_S
    assert server.check_timeouts(150.0) == b""


def test_ping_after_quiet_and_close_after_silence() -> None:
    client, server = established(now=0.0)
    assert client.next_deadline() == PING_INTERVAL_S
    assert client.check_timeouts(PING_INTERVAL_S - 0.1) == b""
    ping = client.check_timeouts(PING_INTERVAL_S)
    assert client.next_deadline() == 2 * PING_INTERVAL_S  # we just sent something
    assert feed(server, ping, now=PING_INTERVAL_S) == [PingReceived()]
    pong = server.send(Pong(), now=PING_INTERVAL_S)
    assert feed(client, pong, now=PING_INTERVAL_S + 1) == [PongReceived()]
    # The server never hears anything again: a driver loop sleeping until each deadline
    # sends pings until the idle timeout.
    deadlines, pings = [], []
    while (deadline := server.next_deadline()) is not None:
        deadlines.append(deadline)
        try:
            pings.append(server.check_timeouts(deadline))
        except PeerTimeoutError as timeout:
            error = timeout
    assert "nothing received" in str(error)
    assert deadlines == [180.0, 270.0, 360.0, PING_INTERVAL_S + IDLE_TIMEOUT_S]
    assert all(feed(client, ping) == [PingReceived()] for ping in pings)
    assert_failed_for_good(server, error)


def test_received_bytes_count_as_life_even_mid_frame() -> None:
    client, server = established(now=0.0)
    data = client.send(Update(SHARE, "d", [b"x" * 1000]))
    server.receive_data(data[:10], now=250.0)
    assert server.next_event() is NEED_DATA
    assert server.check_timeouts(400.0) != b""  # a ping, not a timeout
    assert server.next_deadline() == 400.0 + PING_INTERVAL_S
    assert server.check_timeouts(490.0) != b""
    assert server.next_deadline() == 250.0 + IDLE_TIMEOUT_S


def test_calls_without_now_happen_at_the_latest_now() -> None:
    server = Connection(Role.SERVER, hello())
    assert server.next_deadline() is None  # no clock yet
    assert server.check_timeouts(1000.0) == b""  # starts the clock
    assert server.next_deadline() == 1000.0 + HANDSHAKE_TIMEOUT_S
    server.start()
    assert server.next_deadline() == 1000.0 + HANDSHAKE_TIMEOUT_S
    with pytest.raises(PeerTimeoutError):
        server.check_timeouts(1000.0 + HANDSHAKE_TIMEOUT_S)
