"""Device IDs, share IDs and client IDs: printed forms, parsing, errors, value semantics."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable

import pytest

from p2psync.errors import InvalidIdError, UsageError
from p2psync.ids import (
    CLIENT_ID_BITS,
    MAX_ID_TEXT_CHARS,
    DeviceId,
    ShareId,
    _luhn32,
    new_client_id,
)

# Syncthing's own test vector (lib/protocol/deviceid_test.go): the same digest must
# print the same way in both programs.
SYNCTHING_ID = "P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2"
SYNCTHING_PLAIN = "P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQ"
BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
GROUPED_DEVICE_ID = re.compile(r"^[A-Z2-7]{7}(-[A-Z2-7]{7}){7}$")
GROUPED_SHARE_ID = re.compile(r"^[a-z2-7]{5}(-[a-z2-7]{5}){3}-[a-z2-7]{6}$")


def syncthing_digest() -> bytes:
    return base64.b32decode(SYNCTHING_PLAIN + "====")


def test_device_id_prints_like_syncthing() -> None:
    device = DeviceId(syncthing_digest())
    assert str(device) == SYNCTHING_ID
    assert DeviceId.parse(SYNCTHING_ID) == device


@pytest.mark.parametrize(
    "text",
    [
        SYNCTHING_ID,
        SYNCTHING_ID.lower(),
        SYNCTHING_ID.replace("-", ""),
        SYNCTHING_ID.replace("-", " "),
        "P56IOI7 MZJNU2Y IQGDREY DM2MGTI MGL3BXN PQ6W5BM TBBZ4TJ XZWICQ2",
        f"  {SYNCTHING_ID}\n",
        "P56\tIOI7MZJNU2Y-IQG-DREYDM2MGTIMGL3BXNPQ6W5BMTBBZ4TJXZ\u00a0WICQ2",
        # Syncthing's typo fixes: 0 -> O, 1 -> I, 8 -> B (cases from its test suite).
        "P561017MZJNU2YIQGDREYDM2MGTIMGL3BXNPQ6W5BMT88Z4TJXZWICQ2",
        "p561017mzjnu2yiqgdreydm2mgtimgl3bxnpq6w5bmt88z4tjxzwicq2",
    ],
)
def test_parse_accepts_what_people_type(text: str) -> None:
    assert str(DeviceId.parse(text)) == SYNCTHING_ID


def test_from_certificate_der_is_sha256_of_der() -> None:
    der = b"\x30\x82 not really a certificate"
    device = DeviceId.from_certificate_der(der)
    assert device.digest == hashlib.sha256(der).digest()
    assert DeviceId.parse(str(device)) == device


def test_printed_form_short_and_repr() -> None:
    device = DeviceId.from_certificate_der(b"cert")
    text = str(device)
    assert GROUPED_DEVICE_ID.match(text)
    assert len(text) == 63
    assert device.short() == text[:7]
    assert repr(device) == f"DeviceId('{text}')"


def wrong_check(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another base32 character."""
    other = "A" if text[index] != "A" else "B"
    return text[:index] + other + text[index + 1 :]


@pytest.mark.parametrize("group", [1, 2, 3, 4])
def test_wrong_check_character_is_rejected(group: int) -> None:
    plain = SYNCTHING_ID.replace("-", "")
    with pytest.raises(InvalidIdError, match=f"check character {group} of 4"):
        DeviceId.parse(wrong_check(plain, group * 14 - 1))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "has 0 letters"),
        (SYNCTHING_PLAIN, "has 52 letters"),  # Syncthing's old form without checks
        (SYNCTHING_ID + "A", "has 57 letters"),
        (SYNCTHING_ID[:-1], "has 55 letters"),
        (SYNCTHING_ID.replace("P56", "P59"), "A-Z and digits 2-7"),
        (SYNCTHING_ID.replace("P56", "P5!"), "A-Z and digits 2-7"),
        (SYNCTHING_ID.replace("P56I", "P56\u0131"), "non-ASCII"),  # dotless i upper()s to I
        (SYNCTHING_ID.replace("P56I", "P56\uff29"), "non-ASCII"),  # fullwidth I
        ("A" * (MAX_ID_TEXT_CHARS + 1), f"longer than {MAX_ID_TEXT_CHARS}"),
    ],
)
def test_parse_rejects_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdError, match=re.escape(reason)):
        DeviceId.parse(text)


def test_impossible_last_character_is_rejected() -> None:
    # The 52nd base32 character carries one bit of the digest: only A or Q can print.
    plain = "A" * 51 + "C"
    checked = "".join(chunk + _luhn32(chunk) for chunk in re.findall(".{13}", plain))
    with pytest.raises(InvalidIdError, match="last character is impossible"):
        DeviceId.parse(checked)


def test_error_messages_do_not_echo_huge_input() -> None:
    with pytest.raises(InvalidIdError) as caught:
        DeviceId.parse("x" * 100_000)
    assert len(str(caught.value)) < 200


def test_every_single_substitution_is_caught() -> None:
    """Exhaustive over one ID: each of 56 positions, each of the 31 other characters."""
    plain = SYNCTHING_ID.replace("-", "")
    for index, original in enumerate(plain):
        for replacement in BASE32_ALPHABET.replace(original, ""):
            changed = plain[:index] + replacement + plain[index + 1 :]
            with pytest.raises(InvalidIdError):
                DeviceId.parse(changed)


def test_luhn_doubling_is_a_permutation() -> None:
    """Why every substitution is caught, for every ID, not just the ones tested.

    The check character makes the chunk's sum of addends 0 mod 32. A substitution at
    an odd position changes its addend by (new - old) != 0. At an even position the
    addend is the digit sum of 2 * value in base 32; that map is a permutation of
    0..31, so a different value gives a different addend. Either way the sum changes
    and the check fails.
    """
    doubled = {(2 * value) // 32 + (2 * value) % 32 for value in range(32)}
    assert doubled == set(range(32))


def test_digest_must_be_32_bytes() -> None:
    with pytest.raises(InvalidIdError):
        DeviceId(b"short")
    with pytest.raises(InvalidIdError):
        DeviceId(bytearray(32))  # type: ignore[arg-type]


def test_device_ids_are_values() -> None:
    first = DeviceId.from_certificate_der(b"one")
    again = DeviceId.parse(str(first).lower())
    second = DeviceId.from_certificate_der(b"two")
    assert first == again
    assert hash(first) == hash(again)
    assert {first: 1, second: 2}[again] == 1
    assert (first < second) == (first.digest < second.digest)
    assert sorted([second, first]) == sorted([first, second])
    with pytest.raises(AttributeError):
        first.digest = bytes(32)  # type: ignore[misc]


def test_invalid_id_error_is_a_usage_error() -> None:
    assert issubclass(InvalidIdError, UsageError)


def test_share_id_printed_form() -> None:
    assert str(ShareId(bytes(16))) == "aaaaa-aaaaa-aaaaa-aaaaa-aaaaaa"
    share = ShareId(bytes(range(16)))
    assert GROUPED_SHARE_ID.match(str(share))
    assert repr(share) == f"ShareId('{share}')"


def test_new_share_ids_are_random_and_round_trip() -> None:
    shares = {ShareId.new() for _ in range(100)}
    assert len(shares) == 100
    for share in shares:
        assert len(share.raw) == 16
        assert GROUPED_SHARE_ID.match(str(share))
        assert ShareId.parse(str(share)) == share


@pytest.mark.parametrize(
    "transform",
    [
        str.upper,
        lambda text: text.replace("-", ""),
        lambda text: text.replace("-", " "),
        lambda text: f" {text.upper()}\n",
        lambda text: text.replace("o", "0").replace("i", "1").replace("b", "8"),
    ],
)
def test_share_id_parse_accepts_what_people_type(transform: Callable[[str], str]) -> None:
    share = ShareId(base64.b32decode("OIBOIBOIBOIBOIBOIBOIBOIBOA======"))
    assert str(share) == "oiboi-boibo-iboib-oiboi-boiboa"
    assert ShareId.parse(transform(str(share))) == share


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "has 0 letters"),
        ("aaaaa-aaaaa-aaaaa-aaaaa-aaaaa", "has 25 letters"),
        ("aaaaa-aaaaa-aaaaa-aaaaa-aaaaaaa", "has 27 letters"),
        ("aaaaa-aaaaa-aaaaa-aaaaa-aaaaa9", "A-Z and digits 2-7"),
        ("aaaaa-aaaaa-aaaaa-aaaaa-aaaaab", "last character is impossible"),
        (SYNCTHING_ID, "has 56 letters"),
    ],
)
def test_share_id_parse_rejects_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdError, match=re.escape(reason)):
        ShareId.parse(text)


def test_share_id_raw_must_be_16_bytes() -> None:
    with pytest.raises(InvalidIdError):
        ShareId(bytes(15))


def test_share_ids_are_values() -> None:
    first, second = ShareId(bytes(16)), ShareId(bytes(15) + b"\x01")
    assert ShareId.parse(str(first)) == first
    assert {first: 1, second: 2}[ShareId(bytes(16))] == 1
    assert first < second


def test_client_ids_are_32_bit_and_never_zero() -> None:
    ids = [new_client_id() for _ in range(1000)]
    assert all(0 < client_id < 2**CLIENT_ID_BITS for client_id in ids)
    assert len(set(ids)) > 990


def test_a_forked_child_draws_client_ids_of_its_own() -> None:
    """Client IDs are drawn many at a time; a child forked after a draw must not hand
    out the ones its parent holds (the two would write under one client ID)."""
    new_client_id()  # the parent holds drawn IDs now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next IDs to the parent, then out at once
        os.write(write, b"".join(new_client_id().to_bytes(4, "little") for _ in range(8)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    child = {int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)}
    parent = {new_client_id() for _ in range(8)}
    assert len(child) == 8
    assert not child & parent
