"""The protocol parsers under hypothesis: hostile bytes only ever raise
RemoteProtocolError, and every valid message survives the codec unchanged."""

from __future__ import annotations

import contextlib
import os
import struct
from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.errors import MalformedYjsError, RemoteProtocolError
from p2psync.protocol import (
    MAX_GUID_BYTES,
    NEED_DATA,
    Auth,
    AuthOk,
    Connection,
    DocError,
    DocErrorReceived,
    DocVersion,
    Event,
    Goodbye,
    Hello,
    Index,
    IndexEntry,
    IndexRequest,
    Message,
    MessageReceived,
    Ping,
    PingReceived,
    Pong,
    PongReceived,
    Role,
    State,
    SyncStep1,
    SyncStep2,
    Update,
    decode_state_vector,
    delete_set_digest,
    encode_state_vector,
    wire,
)
from p2psync.protocol.frames import FrameDecoder, encode_frame
from p2psync.protocol.yjs import MAX_YJS_INT

# -- valid messages ---------------------------------------------------------------------

yjs_ints = st.integers(0, MAX_YJS_INT)
vectors = st.dictionaries(yjs_ints, yjs_ints, max_size=6)
shares = st.binary(min_size=16, max_size=16)
guids = st.text(min_size=1, max_size=40).filter(
    lambda g: g.isprintable() and len(g.encode()) <= MAX_GUID_BYTES
)
sequences = st.integers(0, 2**63 - 1)
codes = st.text(max_size=64)
texts = st.text(max_size=1000)
versions = st.lists(st.integers(1, 0xFFFF), max_size=16).map(tuple)
digests = st.binary(min_size=16, max_size=16)
entries = st.builds(IndexEntry, guids, sequences, st.builds(DocVersion, vectors, digests))

sync_messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(IndexRequest, shares, st.sampled_from([b"", b"\x07" * 8]), sequences),
    st.builds(Index, shares, st.binary(min_size=8, max_size=8), sequences,
              st.lists(entries, max_size=5).map(tuple), st.booleans()),
    st.builds(SyncStep1, shares, guids, vectors.map(encode_state_vector)),
    st.builds(SyncStep2, shares, guids, st.binary(max_size=200)),
    st.builds(Update, shares, guids, st.lists(st.binary(max_size=50), min_size=1, max_size=5)),
    st.builds(DocError, shares, guids, codes, texts),
    st.just(Ping()),
    st.just(Pong()),
)  # fmt: skip
messages: st.SearchStrategy[Message] = st.one_of(
    sync_messages,
    st.builds(Hello, versions, st.text(max_size=64), st.text(max_size=64),
              st.binary(min_size=32, max_size=32)),
    st.builds(Auth, st.binary(max_size=600), st.binary(max_size=512)),
    st.just(AuthOk()),
    st.builds(Goodbye, codes, texts, versions),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(messages)
def test_every_valid_message_round_trips_through_a_frame(message: Message) -> None:
    decoder = FrameDecoder()
    decoder.receive_data(encode_frame(wire.encode(message)))
    body = decoder.next_frame()
    assert body is not None
    assert wire.decode(body) == message


@settings(max_examples=200, deadline=None)
@given(st.lists(sync_messages, min_size=1, max_size=8), st.integers(1, 50))
def test_valid_messages_cross_a_connection_in_any_chunking(sent: list[Message], chunk: int) -> None:
    client, server = established()
    data = b"".join(client.send(m) for m in sent)
    events = feed(server, data, chunk)
    assert events == [expected_event(m) for m in sent]


def expected_event(message: Message) -> Event:
    match message:
        case Ping():
            return PingReceived()
        case Pong():
            return PongReceived()
        case DocError():
            return DocErrorReceived(message)
        case IndexRequest() | Index() | SyncStep1() | SyncStep2() | Update():
            return MessageReceived(message)
    raise AssertionError(message)


# -- hostile bytes ----------------------------------------------------------------------


def hello() -> Hello:
    return Hello((1,), "dev", "0.1", os.urandom(32))


def established() -> tuple[Connection, Connection]:
    client, server = Connection(Role.CLIENT, hello()), Connection(Role.SERVER, hello())
    feed(server, client.start())
    feed(client, server.start())
    feed(server, client.send_auth(b"cert", b"sig"))
    feed(client, server.accept())
    return client, server


def connections_in_every_state() -> list[Connection]:
    fresh = Connection(Role.SERVER, hello())
    client, server = Connection(Role.CLIENT, hello()), Connection(Role.SERVER, hello())
    feed(server, client.start())
    feed(client, server.start())
    return [fresh, client, server, *established()]


def feed(conn: Connection, data: bytes, chunk: int = 0) -> list[Event]:
    step = chunk or len(data) or 1
    events: list[Event] = []
    for i in range(0, len(data), step):
        conn.receive_data(data[i : i + step])
        while (event := conn.next_event()) is not NEED_DATA:
            assert not isinstance(event, type(NEED_DATA))
            events.append(event)
    return events


def assert_only_remote_errors(data: bytes, chunk: int = 0) -> None:
    for conn in connections_in_every_state():
        try:
            feed(conn, data, chunk)
        except RemoteProtocolError as exc:
            assert conn.state is State.ERROR
            assert conn.error is exc
        else:
            assert conn.error is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 64))
def test_arbitrary_bytes_raise_only_remote_protocol_errors(data: bytes, chunk: int) -> None:
    assert_only_remote_errors(data, chunk)


keys = st.sampled_from(["t", "s", "d", "i", "e", "u", "sv", "max", "more", "since", "code",
                        "message", "versions", "magic", "name", "client", "nonce", "cert",
                        "sig"])  # fmt: skip
types = st.sampled_from([*sorted(wire.TYPE_NAMES.values()), "nope", ""])
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
    st.text(max_size=20), st.binary(max_size=40), shares, st.sampled_from([b"\x00", b"\x01"]),
    vectors.map(encode_state_vector), st.binary(min_size=32, max_size=32), types,
)  # fmt: skip
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=5), max_leaves=20)


@st.composite
def hostile_frames(draw: st.DrawFn) -> bytes:
    """Length-prefixed msgpack maps that look like messages but hold anything."""
    body: dict[str, Any] = draw(st.dictionaries(keys, values, max_size=8))
    body["t"] = draw(types)
    if draw(st.booleans()):
        body["magic"] = "p2psync"
    payload: bytes = msgpack.packb(body, use_bin_type=True)
    return struct.pack(">I", len(payload)) + payload


@settings(max_examples=300, deadline=None)
@given(st.lists(hostile_frames(), min_size=1, max_size=4), st.integers(0, 16))
def test_message_shaped_garbage_raises_only_remote_protocol_errors(
    frames: list[bytes], chunk: int
) -> None:
    assert_only_remote_errors(b"".join(frames), chunk)


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_mutated_valid_frames_raise_only_remote_protocol_errors(
    message: Message, data: st.DataObject
) -> None:
    frame = bytearray(encode_frame(wire.encode(message)))
    for _ in range(data.draw(st.integers(1, 4))):
        frame[data.draw(st.integers(0, len(frame) - 1))] = data.draw(st.integers(0, 255))
    assert_only_remote_errors(bytes(frame))


# -- Yjs ----------------------------------------------------------------------------------


@given(vectors)
def test_state_vectors_round_trip(vector: dict[int, int]) -> None:
    assert decode_state_vector(encode_state_vector(vector)) == vector


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_yjs_decoders_raise_only_malformed_yjs_errors(data: bytes) -> None:
    for decoder in (decode_state_vector, delete_set_digest):
        with contextlib.suppress(MalformedYjsError):
            decoder(data)


clocks = st.integers(0, MAX_YJS_INT - 100)


@given(st.dictionaries(yjs_ints, st.lists(st.tuples(clocks, st.integers(0, 50)), max_size=6),
                       max_size=4), st.randoms())  # fmt: skip
def test_delete_set_digest_ignores_order_and_splitting(
    ranges: dict[int, list[tuple[int, int]]], rng: Any
) -> None:
    def encode(clients: list[tuple[int, list[tuple[int, int]]]]) -> bytes:
        out = b"\x00" + varuint(len(clients))
        for client, spans in clients:
            out += varuint(client) + varuint(len(spans))
            out += b"".join(varuint(clock) + varuint(length) for clock, length in spans)
        return out

    clients = list(ranges.items())
    shuffled = [(client, rng.sample(spans, len(spans))) for client, spans in clients]
    rng.shuffle(shuffled)
    split = [(c, [p for clock, n in s for p in halves(clock, n)]) for c, s in clients]
    digest = delete_set_digest(encode(clients))
    assert delete_set_digest(encode(shuffled)) == digest
    assert delete_set_digest(encode(split)) == digest


def halves(clock: int, length: int) -> list[tuple[int, int]]:
    half = length // 2
    return [(clock, half), (clock + half, length - half)]


def varuint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)
