"""Awareness frames (``aw``, protocol version 3): what they may hold, and that only a
connection of version 3 sends or takes them."""

from __future__ import annotations

import os
from typing import Any

import pytest

from p2psync.errors import LocalProtocolError, MalformedMessageError, UnexpectedMessageError
from p2psync.protocol import Connection, Hello, Role, State, wire
from p2psync.protocol.events import AwarenessReceived, Established
from p2psync.protocol.frames import encode_frame
from p2psync.protocol.messages import (
    MAX_AWARENESS_ENTRIES,
    MAX_AWARENESS_STATE_BYTES,
    Awareness,
    AwarenessState,
)
from tests.support.connections import CLIENT_ID, SERVER_ID, feed

SHARE = b"s" * 16
CURSOR = AwarenessState(1234, 5, '{"cursor": {"anchor": 3}, "user": {"name": "ada"}}')


def body(**changes: Any) -> dict[str, Any]:
    return wire.encode(Awareness(SHARE, "doc", (CURSOR,))) | changes


def test_states_are_json_text_carried_as_bytes() -> None:
    encoded = body()
    assert encoded["e"] == [[1234, 5, CURSOR.state.encode()]]
    assert wire.decode(encoded) == Awareness(SHARE, "doc", (CURSOR,))
    assert AwarenessState(1, 2, "null").removed
    assert not CURSOR.removed


TOO_DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([], "at least one"),
        ([[1, 1, b"{}"]] * (MAX_AWARENESS_ENTRIES + 1), "more than"),
        ([[1, 1]], "[client, clock, state]"),
        ([{"c": 1}], "[client, clock, state]"),
        ([[-1, 1, b"{}"]], "client and clock"),
        ([[2**53, 1, b"{}"]], "client and clock"),
        ([[1, True, b"{}"]], "client and clock"),
        ([[1, 1, "{}"]], "bin"),
        ([[1, 1, b" " * (MAX_AWARENESS_STATE_BYTES + 1)]], "bin of at most"),
        ([[1, 1, b"\xff"]], "UTF-8"),
        ([[1, 1, b"{cursor: 1}"]], "not JSON"),
        ([[1, 1, b"NaN"]], "not JSON"),
        ([[1, 1, b'{"x": Infinity}']], "not JSON"),
        ([[1, 1, b""]], "not JSON"),
        ([[1, 1, TOO_DEEP]], "nested too deeply"),
    ],
)
def test_what_is_not_an_awareness_frame(entries: list[Any], problem: str) -> None:
    with pytest.raises(MalformedMessageError, match=problem.replace("[", r"\[")) as caught:
        wire.decode(body(e=entries))
    assert caught.value.code == "bad-message"


@pytest.mark.parametrize(("field", "value"), [("s", b"short"), ("d", ""), ("e", b"x")])
def test_share_doc_and_states_are_checked_as_every_frames(field: str, value: Any) -> None:
    with pytest.raises(MalformedMessageError):
        wire.decode(body(**{field: value}))


def established(client_versions: tuple[int, ...]) -> tuple[Connection, Connection]:
    client = Connection(
        Role.CLIENT, Hello(client_versions, "c", "0", os.urandom(32)), certificate=CLIENT_ID.cert
    )
    server = Connection(
        Role.SERVER, Hello((1, 2, 3), "s", "0", os.urandom(32)), certificate=SERVER_ID.cert
    )
    feed(server, client.start())
    feed(client, server.start())
    transcript = client.transcript(SERVER_ID.cert, CLIENT_ID.cert)
    feed(server, client.send_auth(CLIENT_ID.cert, CLIENT_ID.sign(transcript)))
    assert feed(client, server.accept()) == [Established()]
    return client, server


def test_version_3_peers_exchange_awareness() -> None:
    client, server = established((1, 2, 3))
    assert client.version == server.version == 3
    message = Awareness(SHARE, "doc", (CURSOR, AwarenessState(9, 1, "null")))
    assert feed(server, client.send(message)) == [AwarenessReceived(message)]
    assert feed(client, server.send(message)) == [AwarenessReceived(message)]


def test_an_older_peer_is_never_sent_awareness_nor_may_send_it() -> None:
    _client, server = established((1, 2))
    assert server.version == 2
    message = Awareness(SHARE, "doc", (CURSOR,))
    with pytest.raises(LocalProtocolError):
        server.send(message)
    assert server.state is State.ESTABLISHED  # our misuse changes nothing
    with pytest.raises(UnexpectedMessageError):
        feed(server, encode_frame(wire.encode(message)))
    assert server.error is not None
