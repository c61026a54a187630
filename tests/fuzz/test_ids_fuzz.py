"""Property tests for the ID parsers: hostile text, round trips, typo detection."""

from __future__ import annotations

import string

from hypothesis import assume, example, given
from hypothesis import strategies as st

from p2psync.errors import InvalidIdError
from p2psync.ids import DeviceId, ShareId

digests = st.binary(min_size=32, max_size=32)
share_raws = st.binary(min_size=16, max_size=16)
# Characters a person might type instead of another: letters of both cases, digits,
# separators and punctuation, plus non-ASCII look-alikes.
typed_chars = st.sampled_from(string.ascii_letters + string.digits + " -_.!=\u0131\u00a0\uff21")
# Text near the valid forms, so the fuzzer gets past the length check often.
id_like_text = st.text(alphabet=string.ascii_letters + string.digits + "- ", max_size=70)

# Characters that stand for a base32 letter when it is the one the text had: the
# lowercase letter and, for O, I and B, Syncthing's typo aliases.
BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALIASES = {"O": "o0", "I": "i1", "B": "b8"}


def equivalent_chars(original: str) -> str:
    """The characters that parse as ``original`` in a device ID."""
    if original == "-":
        return "- \u00a0"  # any separator, whitespace included
    return original + original.lower() + ALIASES.get(original, "")


def parse_device_id(text: str) -> DeviceId | None:
    try:
        return DeviceId.parse(text)
    except InvalidIdError:
        return None


def parse_share_id(text: str) -> ShareId | None:
    try:
        return ShareId.parse(text)
    except InvalidIdError:
        return None


@given(st.text() | id_like_text)
@example("")
@example("-" * 200)
@example("\u0131" * 56)
def test_parsers_raise_only_invalid_id_error(text: str) -> None:
    device = parse_device_id(text)
    if device is not None:
        assert DeviceId.parse(str(device)) == device
    share = parse_share_id(text)
    if share is not None:
        assert ShareId.parse(str(share)) == share


@given(digests)
def test_device_id_round_trips(digest: bytes) -> None:
    device = DeviceId(digest)
    text = str(device)
    assert DeviceId.parse(text) == device
    assert DeviceId.parse(text.lower().replace("-", "")) == device
    assert DeviceId.parse(text.replace("O", "0").replace("I", "1").replace("B", "8")) == device


@given(share_raws)
def test_share_id_round_trips(raw: bytes) -> None:
    share = ShareId(raw)
    text = str(share)
    assert share.raw == raw
    assert ShareId.parse(text) == share
    assert ShareId.parse(text.upper().replace("-", " ")) == share


@given(digests, st.integers(min_value=0, max_value=62), typed_chars)
def test_single_character_change_never_gives_another_device(
    digest: bytes, index: int, replacement: str
) -> None:
    """A mistyped character is rejected; only a mere spelling variant parses, as the same ID."""
    device = DeviceId(digest)
    text = str(device)
    changed = text[:index] + replacement + text[index + 1 :]
    parsed = parse_device_id(changed)
    if replacement in equivalent_chars(text[index]):
        assert parsed == device
    else:
        assert parsed is None


@given(digests, st.integers(min_value=0, max_value=55), st.sampled_from(BASE32_ALPHABET))
def test_every_base32_substitution_is_rejected(digest: bytes, index: int, replacement: str) -> None:
    plain = str(DeviceId(digest)).replace("-", "")
    assume(replacement != plain[index])
    changed = plain[:index] + replacement + plain[index + 1 :]
    assert parse_device_id(changed) is None
