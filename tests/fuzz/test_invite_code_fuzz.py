"""Hypothesis on the invite code parser: any text, and mutations of real codes."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from p2psync.errors import InvalidInviteError
from p2psync.ids import DeviceId, ShareId
from p2psync.invitecode import MAX_ADDRESSES, InviteCode, parse_invite

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
hosts = st.from_regex(r"[a-z0-9.]{1,20}", fullmatch=True)
addresses = st.builds(lambda h, p: f"{h}:{p}", hosts, st.integers(0, 65535))
codes = st.builds(
    InviteCode,
    st.binary(min_size=16, max_size=16).map(ShareId),
    st.binary(min_size=32, max_size=32).map(DeviceId),
    st.lists(addresses, max_size=MAX_ADDRESSES).map(tuple),
    st.binary(min_size=16, max_size=16),
    st.integers(0, 2**32 - 1),
)


def parses_or_refuses(text: str) -> InviteCode | None:
    try:
        return parse_invite(text)
    except InvalidInviteError as exc:
        assert str(exc)
        return None


@given(codes)
def test_every_code_round_trips(code: InviteCode) -> None:
    assert parse_invite(str(code)) == code


@given(st.text(max_size=3000))
def test_any_text_parses_or_is_a_typed_error(text: str) -> None:
    parses_or_refuses(text)


@given(st.text(alphabet=BASE32 + "-" + string.digits + string.ascii_lowercase, max_size=1200))
def test_code_like_text_parses_or_is_a_typed_error(text: str) -> None:
    parses_or_refuses(text)


@given(codes, st.data())
def test_mutated_codes_never_pass_as_another_code(code: InviteCode, data: st.DataObject) -> None:
    chars = list(str(code).replace("-", ""))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(chars) - 1))
        chars[i] = data.draw(st.sampled_from(BASE32))
    if data.draw(st.booleans()):
        chars = chars[: data.draw(st.integers(0, len(chars)))]
    parsed = parses_or_refuses("".join(chars))
    # A mutation passes only if it left the code as it was (odds 2^-32 otherwise).
    assert parsed is None or parsed == code
