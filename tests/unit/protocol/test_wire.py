"""The codec: every message round-trips; every malformed field is a typed error."""

from __future__ import annotations

from typing import Any

import pytest

from p2psync.errors import MalformedMessageError, MalformedYjsError, RemoteProtocolError
from p2psync.protocol import wire
from p2psync.protocol.frames import FrameDecoder, encode_frame
from p2psync.protocol.messages import (
    MAX_GUID_BYTES,
    MAX_INDEX_ENTRIES,
    MAX_UPDATES_PER_FRAME,
    Auth,
    AuthOk,
    Awareness,
    AwarenessState,
    DocError,
    Goodbye,
    Hello,
    Index,
    IndexEntry,
    IndexRequest,
    JoinProof,
    MemberEntry,
    MemberList,
    Message,
    Ping,
    Pong,
    SyncStep1,
    SyncStep2,
    Update,
)
from p2psync.protocol.yjs import DocVersion

SHARE = bytes(range(16))
INDEX_ID = b"\x01" * 8
DIGEST = b"\x02" * 16
NONCE = b"\x03" * 32

EXAMPLES: list[Message] = [
    Hello((1, 2), "laptop", "0.1.0", NONCE),
    Hello((), "", "", NONCE),
    Auth(b"cert", b"sig"),
    AuthOk(),
    Ping(),
    Pong(),
    Goodbye("timeout", "nothing received for 300 s"),
    Goodbye("no-common-version", "we speak 1", (1,)),
    IndexRequest(SHARE, b"", 0),
    IndexRequest(SHARE, INDEX_ID, 2**63 - 1),
    Index(SHARE, INDEX_ID, 7, ()),
    Index(
        SHARE,
        INDEX_ID,
        9,
        (
            IndexEntry("a.md", 3, DocVersion({}, DIGEST)),
            IndexEntry("é" * 75, 9, DocVersion({2**53 - 1: 5, 0: 0, 7: 2**40}, DIGEST)),
        ),
        more=True,
    ),
    Index(
        SHARE,
        INDEX_ID,
        9,
        (
            IndexEntry("a.md", 3, DocVersion({}, DIGEST), size=0),
            IndexEntry("b.md", 9, DocVersion({7: 2}, DIGEST), size=2**63 - 1),
        ),
    ),
    SyncStep1(SHARE, "doc", b"\x00"),
    SyncStep1(SHARE, "doc", b"\x02\x01\x05\xff\xff\x03\x01"),
    SyncStep2(SHARE, "doc", b"\x00\x00"),
    SyncStep2(SHARE, "doc", b"\x00\x00", more=True),
    Update(SHARE, "doc", [b"\x01", b""]),
    DocError(SHARE, "doc", "bad-update", "not a Yjs v1 update"),
    Auth(b"cert", b"sig", JoinProof(b"\x04" * 32, b"\x05" * 64)),
    MemberList(SHARE, ()),
    MemberList(
        SHARE,
        (
            MemberEntry(b"\x06" * 32, "receive-only", 2**63 - 1, b"\x07" * 32),
            MemberEntry(b"\x08" * 32, "removed", 0, b"\x06" * 32),
        ),
    ),
    MemberList(
        SHARE,
        (MemberEntry(b"\x06" * 32, "send-receive", 1, b"\x07" * 32),),
        ((b"\x06" * 32, "127.0.0.1:4242"), (b"\x06" * 32, "[::1]:4242")),
    ),
    Awareness(SHARE, "doc", (AwarenessState(2**53 - 1, 0, '{"user": {"name": "Zoë"}}'),)),
    Awareness(SHARE, "doc", (AwarenessState(7, 3, "null"), AwarenessState(8, 1, "[1, 2.5]"))),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_through_a_frame(message: Message) -> None:
    decoder = FrameDecoder()
    decoder.receive_data(encode_frame(wire.encode(message)))
    body = decoder.next_frame()
    assert body is not None
    assert wire.message_type(body) is type(message)
    assert wire.decode(body) == message


def test_every_message_type_has_an_example() -> None:
    assert {type(m) for m in EXAMPLES} == set(wire.TYPE_NAMES)


def test_a_whole_sync_step2_is_the_frame_version_1_sends() -> None:
    # Only the parts of a split answer carry ``more``: a peer that does not know the
    # field reads each part as an answer of its own, and the last one as before.
    assert wire.encode(SyncStep2(SHARE, "d", b"\x00\x00")) == {
        "t": "s2",
        "s": SHARE,
        "d": "d",
        "u": b"\x00\x00",
    }
    assert wire.encode(SyncStep2(SHARE, "d", b"\x00\x00", more=True))["more"] is True


def test_index_sizes_are_an_optional_field_beside_the_entries() -> None:
    # An older peer ignores ``sz`` (a field it does not know) and reads the entries as
    # it always did; an index without sizes is the frame older peers send, read with
    # no size. Sizes go only when every entry has one.
    sized = Index(SHARE, INDEX_ID, 1, (IndexEntry("a", 1, DocVersion({1: 1}, DIGEST), 42),))
    body = wire.encode(sized)
    assert body["sz"] == [42]
    assert {k: v for k, v in body.items() if k != "sz"} == wire.encode(IDX)
    assert "sz" not in wire.encode(IDX)
    assert wire.decode(wire.encode(IDX)).entries[0].size is None  # type: ignore[union-attr]
    mixed = Index(SHARE, INDEX_ID, 1, (*sized.entries, IndexEntry("b", 2, DocVersion({}, DIGEST))))
    assert "sz" not in wire.encode(mixed)


def test_unknown_fields_are_ignored() -> None:
    body = wire.encode(Ping()) | {"future": [1, 2]}
    assert wire.decode(body) == Ping()


def good(original: Message, /, **changes: Any) -> dict[str, Any]:
    """The body of ``original`` with some fields replaced (or removed: _MISSING)."""
    body = wire.encode(original)
    for key, value in changes.items():
        if value is _MISSING:
            del body[key]
        else:
            body[key] = value
    return body


_MISSING = object()
HELLO = Hello((1,), "n", "c", NONCE)
S1 = SyncStep1(SHARE, "doc", b"\x00")
IDX = Index(SHARE, INDEX_ID, 1, (IndexEntry("a", 1, DocVersion({1: 1}, DIGEST)),))

BAD: dict[str, dict[str, Any]] = {
    "no type": {"x": 1},
    "type not a string": {"t": 1},
    "unknown type": {"t": "nope"},
    "hello version zero": good(HELLO, versions=[0]),
    "hello version too big": good(HELLO, versions=[70_000]),
    "hello version bool": good(HELLO, versions=[True]),
    "hello too many versions": good(HELLO, versions=list(range(1, 18))),
    "hello short nonce": good(HELLO, nonce=b"\x00" * 31),
    "hello nonce str": good(HELLO, nonce="x" * 32),
    "hello long name": good(HELLO, name="x" * 65),
    "hello no client": good(HELLO, client=_MISSING),
    "auth cert too long": good(Auth(b"c", b"s"), cert=b"\x00" * 8193),
    "auth sig missing": good(Auth(b"c", b"s"), sig=_MISSING),
    "bye code not str": good(Goodbye("c", "m"), code=None),
    "bye message too long": good(Goodbye("c", "m"), message="x" * 1001),
    "bye versions not a list": good(Goodbye("c", "m"), versions=1),
    "ireq index id 7 bytes": good(IndexRequest(SHARE, b"", 0), i=b"\x00" * 7),
    "ireq since negative": good(IndexRequest(SHARE, b"", 0), since=-1),
    "ireq since too big": good(IndexRequest(SHARE, b"", 0), since=2**63),
    "ireq since bool": good(IndexRequest(SHARE, b"", 0), since=True),
    "ireq since float": good(IndexRequest(SHARE, b"", 0), since=1.0),
    "idx empty index id": good(IDX, i=b""),
    "idx too many entries": good(IDX, e=[["a", 1, b"\x00", DIGEST]] * (MAX_INDEX_ENTRIES + 1)),
    "idx entry not a list": good(IDX, e=["a"]),
    "idx entry too short": good(IDX, e=[["a", 1, b"\x00"]]),
    "idx entry empty guid": good(IDX, e=[["", 1, b"\x00", DIGEST]]),
    "idx entry bad sequence": good(IDX, e=[["a", -1, b"\x00", DIGEST]]),
    "idx entry vector not bytes": good(IDX, e=[["a", 1, [[1, 2]], DIGEST]]),
    "idx entry short digest": good(IDX, e=[["a", 1, b"\x00", b"\x00"]]),
    "idx more not bool": good(IDX, more=1),
    "idx sizes not a list": good(IDX, sz=5),
    "idx sizes too few": good(IDX, sz=[]),
    "idx sizes too many": good(IDX, sz=[1, 2]),
    "idx size negative": good(IDX, sz=[-1]),
    "idx size not int": good(IDX, sz=[b"\x01"]),
    "idx size bool": good(IDX, sz=[True]),
    "s1 short share": good(S1, s=b"\x00" * 15),
    "s1 share str": good(S1, s="x" * 16),
    "s1 guid too long": good(S1, d="x" * (MAX_GUID_BYTES + 1)),
    "s1 guid multibyte too long": good(S1, d="é" * 76),
    "s1 guid bytes": good(S1, d=b"doc"),
    "s1 no state vector": good(S1, sv=_MISSING),
    "s2 update str": good(SyncStep2(SHARE, "d", b""), u="x"),
    "s2 more not bool": good(SyncStep2(SHARE, "d", b""), more=1),
    "upd empty": good(Update(SHARE, "d", [b"x"]), u=[]),
    "upd not bytes": good(Update(SHARE, "d", [b"x"]), u=["x"]),
    "upd too many": good(Update(SHARE, "d", [b"x"]), u=[b""] * (MAX_UPDATES_PER_FRAME + 1)),
    "derr no code": good(DocError(SHARE, "d", "c", "m"), code=_MISSING),
    "mem addresses odd": good(MemberList(SHARE, ()), a=[b"\x06" * 32]),
    "mem address short device": good(MemberList(SHARE, ()), a=[b"\x06" * 31, "h:1"]),
    "mem address not str": good(MemberList(SHARE, ()), a=[b"\x06" * 32, 1]),
    "mem address empty": good(MemberList(SHARE, ()), a=[b"\x06" * 32, ""]),
    "mem address too long": good(MemberList(SHARE, ()), a=[b"\x06" * 32, "h" * 301]),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_messages_are_typed_errors(name: str) -> None:
    with pytest.raises(MalformedMessageError) as info:
        wire.decode(BAD[name])
    assert info.value.code == "bad-message"


def test_bad_magic_says_so() -> None:
    with pytest.raises(MalformedMessageError) as info:
        wire.decode(good(HELLO, magic="http"))
    assert info.value.code == "bad-magic"


BAD_VECTORS = {
    "truncated": b"\x01\x05",
    "trailing": b"\x00\x00",
    "count too big": b"\xff\xff\xff\x7f",
    "duplicate client": b"\x02\x01\x01\x01\x02",
    "number too long": b"\x01" + b"\xff" * 9 + b"\x01\x01",
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(BAD_VECTORS))
def test_bad_state_vectors_are_typed_errors(name: str) -> None:
    vector = BAD_VECTORS[name]
    for body in (good(S1, sv=vector), good(IDX, e=[["a", 1, vector, DIGEST]])):
        with pytest.raises(MalformedYjsError) as info:
            wire.decode(body)
        assert isinstance(info.value, RemoteProtocolError)
        assert info.value.code == "bad-yjs"
