"""Two real connection state machines joined by a fake wire."""

from __future__ import annotations

import os
import struct

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psync.errors import LocalProtocolError, RemoteProtocolError
from p2psync.protocol import connection as c
from p2psync.protocol import wire
from p2psync.protocol.frames import MAX_FRAME_BYTES
from p2psync.protocol.messages import IndexRequest, SyncMessage, SyncStep1, Update

SHARE = b"s" * 16


def hello(versions: tuple[int, ...] = (1,)) -> wire.Hello:
    return wire.Hello(versions, "dev", "0.1", os.urandom(32))


def drain(conn: c.Connection) -> list[c.Event]:
    events = []
    while (event := conn.next_event()) is not c.NEED_DATA:
        assert not isinstance(event, c.NeedData)
        events.append(event)
    return events


def feed(conn: c.Connection, data: bytes, *, chunk: int = 0) -> list[c.Event]:
    step = chunk or len(data) or 1
    events: list[c.Event] = []
    for i in range(0, len(data), step):
        conn.receive_data(data[i : i + step])
        events += drain(conn)
    return events


def established(chunk: int = 0) -> tuple[c.Connection, c.Connection]:
    client, server = c.Connection(c.Role.CLIENT, hello()), c.Connection(c.Role.SERVER, hello())
    [s_hello] = feed(server, client.start(), chunk=chunk)
    [c_hello] = feed(client, server.start(), chunk=chunk)
    assert isinstance(s_hello, c.HelloReceived)
    assert isinstance(c_hello, c.HelloReceived)
    assert s_hello.version == c_hello.version == 1
    assert client.transcript(b"S", b"C") == server.transcript(b"S", b"C")
    [auth] = feed(server, client.send_auth(b"cert", b"sig"), chunk=chunk)
    assert auth == c.AuthRequested(b"cert", b"sig")
    assert feed(client, server.accept(), chunk=chunk) == [c.Established()]
    return client, server


@pytest.mark.parametrize("chunk", [0, 1, 7])
def test_handshake_and_sync_messages(chunk: int) -> None:
    client, server = established(chunk)
    messages: list[SyncMessage] = [
        IndexRequest(SHARE, b"", 0),
        SyncStep1(SHARE, "a.md", b"\x00"),
        Update(SHARE, "b.md", [b"u1", b"u2"]),
    ]
    data = b"".join(client.send(m) for m in messages)
    assert feed(server, data, chunk=chunk) == [c.MessageReceived(m) for m in messages]


def test_no_common_version_is_a_clear_error_on_both_sides() -> None:
    client = c.Connection(c.Role.CLIENT, hello((1,)))
    server = c.Connection(c.Role.SERVER, hello((2, 3)))
    to_server, to_client = client.start(), server.start()
    for conn, data in ((server, to_server), (client, to_client)):
        with pytest.raises(RemoteProtocolError, match="no common protocol version") as info:
            feed(conn, data)
        assert info.value.code == "no-common-version"
        assert conn.state is c.State.CLOSED


def test_sync_before_auth_is_refused_both_ways() -> None:
    client, server = c.Connection(c.Role.CLIENT, hello()), c.Connection(c.Role.SERVER, hello())
    feed(server, client.start())
    with pytest.raises(LocalProtocolError):
        server.send(IndexRequest(SHARE, b"", 0))
    sneaky = struct.pack(">I", 0)  # build a frame by hand, as a hostile client would
    body = msgpack.packb(wire.encode(IndexRequest(SHARE, b"", 0)))
    sneaky = struct.pack(">I", len(body)) + body
    with pytest.raises(RemoteProtocolError, match="not allowed"):
        feed(server, sneaky)
    assert server.state is c.State.CLOSED
    assert feed(server, sneaky) == []  # no further state change


def frame(body: object) -> bytes:
    payload: bytes = msgpack.packb(body)
    return struct.pack(">I", len(payload)) + payload


MALFORMED = {
    "not msgpack": struct.pack(">I", 3) + b"\xc1\xc1\xc1",
    "not a map": frame([1, 2]),
    "unknown type": frame({"t": "nope"}),
    "wrong field type": frame({"t": "upd", "s": SHARE, "d": "x", "u": "text"}),
    "bad share id": frame({"t": "s1", "s": b"short", "d": "x", "sv": b"\x00"}),
    "bad state vector": frame({"t": "s1", "s": SHARE, "d": "x", "sv": b"\x05\x01"}),
    "empty guid": frame({"t": "s2", "s": SHARE, "d": "", "u": b""}),
    "bool as int": frame({"t": "ireq", "s": SHARE, "i": b"", "since": True}),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_frames_close_with_a_typed_error(name: str) -> None:
    _, server = established()
    with pytest.raises(RemoteProtocolError):
        feed(server, MALFORMED[name])
    assert server.state is c.State.CLOSED


def test_oversized_frame_is_refused_before_its_body_arrives() -> None:
    _, server = established()
    with pytest.raises(RemoteProtocolError, match="limit") as info:
        server.receive_data(struct.pack(">I", MAX_FRAME_BYTES + 1))
    assert info.value.code == "too-large"
    assert server.state is c.State.CLOSED


def test_truncated_frame_waits_for_more() -> None:
    client, server = established()
    data = client.send(SyncStep1(SHARE, "a", b"\x00"))
    server.receive_data(data[:-1])
    assert server.next_event() is c.NEED_DATA
    server.receive_data(data[-1:])
    assert isinstance(server.next_event(), c.MessageReceived)


def test_goodbye_closes() -> None:
    client, server = established()
    assert feed(server, client.close("bye", "done")) == [c.Closed("bye", "done")]
    assert server.state is c.State.CLOSED


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_remote_protocol_errors(data: bytes) -> None:
    for conn in established():
        try:
            feed(conn, data)
        except RemoteProtocolError:
            assert conn.state is c.State.CLOSED
