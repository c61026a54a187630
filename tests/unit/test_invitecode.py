"""Invite codes: round trips, typos caught by the checksum, every limit a typed error."""

from __future__ import annotations

import base64
import hashlib

import pytest

from p2psync.errors import InvalidInviteError, UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.invitecode import (
    MAX_ADDRESSES,
    MAX_INVITE_TEXT_CHARS,
    InviteCode,
    parse_invite,
)

SHARE = ShareId(bytes(range(16)))
INVITER = DeviceId(bytes(range(32)))


def code(addresses: tuple[str, ...] = ("192.168.1.5:22070", "[fe80::1]:22070")) -> InviteCode:
    return InviteCode.new(SHARE, INVITER, addresses, 1_900_000_000)


def test_round_trip_as_printed_and_as_typed() -> None:
    made = code()
    text = str(made)
    assert parse_invite(text) == made
    assert parse_invite(text.lower()) == made
    assert parse_invite("  " + text.replace("-", " \n ") + " ") == made
    assert parse_invite(text.replace("O", "0").replace("I", "1").replace("B", "8")) == made
    assert set(text.replace("-", "")) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_a_code_without_addresses_and_the_secret_is_random() -> None:
    first, second = code(()), code(())
    assert parse_invite(str(first)).addresses == ()
    assert first.secret != second.secret
    assert len(first.secret) == 16


def test_every_single_mistyped_character_is_caught_as_a_typo() -> None:
    text = str(code()).replace("-", "")
    caught = 0
    for i, original in enumerate(text):
        wrong = "A" if original != "A" else "B"
        typo = text[:i] + wrong + text[i + 1 :]
        with pytest.raises(InvalidInviteError) as error:
            parse_invite(typo)
        caught += "mistyped" in str(error.value) or "cut short" in str(error.value)
    assert caught == len(text)


def test_a_typo_in_the_last_character_is_caught_whatever_the_secret() -> None:
    # The last base32 character carries unused bits that decoding drops; with a random
    # secret, a typo there changed only those bits in about one code in eight.
    for _ in range(200):
        text = str(code()).replace("-", "")
        for wrong in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567":
            if wrong != text[-1]:
                with pytest.raises(InvalidInviteError, match="mistyped"):
                    parse_invite(text[:-1] + wrong)


def test_cut_short_and_lengthened_codes() -> None:
    text = str(code()).replace("-", "")
    for cut in (1, 8, len(text) // 2, len(text) - 10):
        with pytest.raises(InvalidInviteError):
            parse_invite(text[:cut])
    with pytest.raises(InvalidInviteError, match=r"mistyped|cut short"):
        parse_invite(text + "AAAAAAAA")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "letters A-Z"),
        ("not-a-code!", "letters A-Z"),
        ("ÀBCDEF", "non-ASCII"),
        ("A" * (MAX_INVITE_TEXT_CHARS + 1), "longer than"),
    ],
)
def test_text_that_is_no_code(text: str, reason: str) -> None:
    with pytest.raises(InvalidInviteError, match=reason):
        parse_invite(text)


def reencode(raw: bytes) -> str:
    """``raw`` with a correct checksum, as a code: the checksum is not the only check."""
    data = raw + hashlib.sha256(raw).digest()[:4]
    return base64.b32encode(data).decode().rstrip("=")


def test_fields_the_inviter_could_not_have_written_are_refused() -> None:
    body = code().to_bytes()[:-4]
    with pytest.raises(InvalidInviteError, match="version 9"):
        parse_invite(reencode(b"\x09" + body[1:]))
    with pytest.raises(InvalidInviteError, match="bytes after"):
        parse_invite(reencode(body + b"\x00"))
    fixed = body[:69]
    with pytest.raises(InvalidInviteError, match="addresses"):
        parse_invite(reencode(fixed + bytes([MAX_ADDRESSES + 1])))
    with pytest.raises(InvalidInviteError, match="malformed address"):
        parse_invite(reencode(fixed + b"\x01\x05ab:cd"))  # not HOST:PORT
    with pytest.raises(InvalidInviteError, match="malformed address"):
        parse_invite(reencode(fixed + b"\x01\x09\xff\xfe:1:2:34"))  # not UTF-8
    with pytest.raises(InvalidInviteError, match="malformed address"):
        parse_invite(reencode(fixed + b"\x01\x40x"))  # announced longer than it is


def test_limits_when_making_a_code() -> None:
    with pytest.raises(InvalidInviteError, match="at most"):
        code(tuple(f"10.0.0.{i}:1" for i in range(MAX_ADDRESSES + 1)))
    with pytest.raises(InvalidInviteError, match="too long"):
        code(("h" * 70 + ":1",))
    with pytest.raises(UsageError):
        code(("no-port",))
    with pytest.raises(InvalidInviteError, match="expiry"):
        InviteCode.new(SHARE, INVITER, (), 2**32)


def test_expiry_and_repr_without_the_secret() -> None:
    made = code()
    assert not made.expired(1_899_999_999.5)
    assert made.expired(1_900_000_000)
    assert made.secret.hex() not in repr(made)
    assert str(made) not in repr(made)
