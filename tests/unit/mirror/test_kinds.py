"""kinds: which files are synced as text, which whole."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psync.mirror.kinds import (
    DIGEST_BYTES,
    TEXT_MAX_BYTES,
    FileKind,
    decode_text,
    file_digest,
    file_kind,
    may_be_text,
)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", FileKind.TEXT),
        (b"hello\n", FileKind.TEXT),
        ("caf\u00e9 \u4e2d\u6587 \U0001f600 e\u0301\r\n".encode(), FileKind.TEXT),
        (b"\xef\xbb\xbfwith a byte order mark", FileKind.TEXT),
        (b"tab\tand\x1bescape", FileKind.TEXT),
        (b"nul\x00inside", FileKind.BINARY),
        (b"\xff\xfeu\x00t\x00f\x00", FileKind.BINARY),  # UTF-16
        (b"latin-1 caf\xe9", FileKind.BINARY),
        (b"\xc0\xaf", FileKind.BINARY),  # overlong "/"
        (b"\xed\xa0\x80", FileKind.BINARY),  # an encoded surrogate (CESU-8)
        (b"truncated \xe4\xb8", FileKind.BINARY),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", FileKind.BINARY),
    ],
)
def test_kind_examples(data: bytes, kind: FileKind) -> None:
    assert file_kind(data) is kind


def test_size_threshold_is_inclusive() -> None:
    assert file_kind(b"a" * TEXT_MAX_BYTES) is FileKind.TEXT
    assert file_kind(b"a" * (TEXT_MAX_BYTES + 1)) is FileKind.BINARY
    assert may_be_text(TEXT_MAX_BYTES)
    assert not may_be_text(TEXT_MAX_BYTES + 1)
    assert not may_be_text(-1)


@given(st.binary(max_size=200))
def test_property_text_round_trips_to_the_same_bytes(data: bytes) -> None:
    text = decode_text(data)
    if text is None:
        assert file_kind(data) is FileKind.BINARY
    else:
        assert text.encode("utf-8") == data
        assert "\0" not in text


@given(st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=200))
def test_property_any_text_without_nul_is_text(text: str) -> None:
    assert decode_text(text.encode()) == text


def test_digest_is_sha256() -> None:
    assert file_digest(b"abc") == hashlib.sha256(b"abc").digest()
    assert len(file_digest(b"")) == DIGEST_BYTES
    assert file_digest(b"a") != file_digest(b"b")
