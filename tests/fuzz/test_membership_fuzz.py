"""Hypothesis on the membership frames: ``mem`` bodies and the ``join`` field of
``auth``; whatever decodes merges into a member map without error, within its bound."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.errors import MalformedMessageError
from p2psync.protocol import wire
from p2psync.protocol.messages import MEMBER_MODES, Auth, MemberEntry, MemberList
from p2psync.replica.membership import MAX_MEMBERS, MemberMap

ids = st.binary(min_size=32, max_size=32)
entries = st.builds(MemberEntry, ids, st.sampled_from(MEMBER_MODES), st.integers(0, 2**63 - 1), ids)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.text(max_size=20),
    st.binary(max_size=70), ids, st.sampled_from(MEMBER_MODES),
)  # fmt: skip
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=6), max_leaves=30)


@given(st.binary(min_size=16, max_size=16), st.lists(entries, max_size=50))
def test_member_lists_round_trip(share: bytes, items: list[MemberEntry]) -> None:
    message = MemberList(share, tuple(items))
    assert wire.decode(wire.encode(message)) == message


@settings(max_examples=500)
@given(st.dictionaries(st.sampled_from(["s", "m", "x"]), values, max_size=3))
def test_hostile_member_lists_decode_or_fail_typed(body: dict[str, Any]) -> None:
    body["t"] = "mem"
    try:
        message = wire.decode(body)
    except MalformedMessageError:
        return
    assert isinstance(message, MemberList)
    member_map = MemberMap()
    member_map.merge(message.entries)
    assert len(member_map.entries) <= MAX_MEMBERS
    member_map.members()  # every mode it holds is a valid one


@settings(max_examples=300)
@given(values)
def test_hostile_join_fields_decode_or_fail_typed(join: Any) -> None:
    body = {"t": "auth", "cert": b"c", "sig": b"s", "join": join}
    try:
        message = wire.decode(body)
    except MalformedMessageError:
        return
    assert isinstance(message, Auth)
    assert message.join is not None
    assert len(message.join.verifier) == 32
    assert len(message.join.proof) == 64
