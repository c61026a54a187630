"""Identifiers: device IDs, share IDs and Yjs client IDs.

This module owns the printed forms of the IDs a user reads, types and pastes. It is
pure: no I/O, no certificates (``p2psync.net.identity`` makes those).

A device ID is the SHA-256 of the device's certificate (DER), written as Syncthing
writes it, so the two read the same: base32 (RFC 4648, no padding, 52 characters),
split into four chunks of 13, each followed by one Luhn mod 32 check character
computed exactly as Syncthing computes it, then printed as eight dash-separated groups
of seven::

    P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2

A share ID is 128 random bits printed as 26 lowercase base32 characters in groups of
5, 5, 5, 5 and 6 (see ``ShareId``). Share IDs carry no check characters.

Parsing is lenient in what people do by hand and strict in everything else: any case,
dashes and whitespace anywhere, and Syncthing's typo fixes (``0``→``O``, ``1``→``I``,
``8``→``B``, safe because base32 has no ``0``, ``1`` or ``8``). Anything else — a
wrong check character, a wrong length, a character outside base32 (non-ASCII look-alikes
included), an encoding that no ID prints as — raises InvalidIdError. Unlike Syncthing,
the empty string and the 52-character form without check characters are rejected.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import struct
from dataclasses import dataclass

from p2psync.errors import InvalidIdError

CLIENT_ID_BITS = 32
DEVICE_ID_DIGEST_BYTES = 32
SHARE_ID_BYTES = 16
MAX_ID_TEXT_CHARS = 128
"""Longer input is rejected before any work is done (a grouped device ID has 63)."""

_BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BASE32_VALUE = {char: value for value, char in enumerate(_BASE32_ALPHABET)}
_BASE32_BLOCK_CHARS = 8
_TYPO_FIXES = str.maketrans("018", "OIB")
_ERROR_ECHO_CHARS = 70

_LUHN_CHUNK_CHARS = 13
_DEVICE_ID_PLAIN_CHARS = 52
_DEVICE_ID_CHECKED_CHARS = 56
_DEVICE_ID_GROUP_CHARS = 7
_SHARE_ID_CHARS = 26
_SHARE_ID_GROUP_CHARS = 5


_CLIENT_IDS_AT_ONCE = 1024
_client_ids: list[int] = []
"""Client IDs drawn and not yet handed out (``new_client_id``)."""


def new_client_id() -> int:
    """Return a fresh random 32-bit Yjs client ID, never 0.

    Yjs uses 32-bit client IDs; pycrdt's default 53-bit IDs make encoded documents
    about 1.7x larger. A client ID must never be reused across processes or after a
    restart that lost state, so every Doc the daemon edits gets a new one. They come
    from the kernel's random source as ``secrets`` draws them, but 1,024 at a time
    (one system call each was 7 % of the event loop in a first scan of 10,000
    files); a forked child starts with none drawn, so it never shares one with its
    parent. Safe from several threads (a list's pop and extend are atomic).
    """
    while True:
        try:
            return _client_ids.pop()
        except IndexError:
            drawn = struct.unpack(
                f"<{_CLIENT_IDS_AT_ONCE}I", secrets.token_bytes(4 * _CLIENT_IDS_AT_ONCE)
            )
            _client_ids.extend(value for value in drawn if value)


os.register_at_fork(after_in_child=_client_ids.clear)


def _echo(text: str) -> str:
    """``text`` quoted for an error message, cut short so hostile input stays small."""
    if len(text) <= _ERROR_ECHO_CHARS:
        return repr(text)
    return repr(text[:_ERROR_ECHO_CHARS]) + "..."


def _normalise(text: str, kind: str) -> str:
    """Upper-case base32 characters of ``text`` without separators or typos.

    Raises InvalidIdError if ``text`` is too long or holds a character that is not a
    separator (dash, whitespace) and not base32 once typos are fixed.
    """
    if len(text) > MAX_ID_TEXT_CHARS:
        raise InvalidIdError(
            f"{_echo(text)} is not a {kind} (longer than {MAX_ID_TEXT_CHARS} characters)"
        )
    compact = "".join(text.split()).replace("-", "")
    # Check ASCII before upper(): Unicode case mapping turns U+0131 into "I", U+017F into "S".
    if not compact.isascii():
        raise InvalidIdError(f"{_echo(text)} is not a {kind} (it has non-ASCII characters)")
    compact = compact.upper().translate(_TYPO_FIXES)
    if any(char not in _BASE32_VALUE for char in compact):
        raise InvalidIdError(f"{_echo(text)} is not a {kind} (letters A-Z and digits 2-7 only)")
    return compact


def _base32(raw: bytes) -> str:
    """Upper-case RFC 4648 base32 of ``raw`` without padding."""
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _decode_canonical(chars: str, text: str, kind: str) -> bytes:
    """The bytes that ``chars`` (valid base32 characters, no padding) encode.

    Raises InvalidIdError unless ``chars`` is exactly what ``_base32`` prints for those
    bytes: the unused low bits of the last character must be zero, so that each ID has
    one printed form.
    """
    padding = "=" * (-len(chars) % _BASE32_BLOCK_CHARS)
    raw = base64.b32decode(chars + padding)
    if _base32(raw) != chars:
        raise InvalidIdError(f"{_echo(text)} is not a {kind} (its last character is impossible)")
    return raw


def _luhn32(chunk: str) -> str:
    """The check character Syncthing appends to a chunk of base32 characters.

    Luhn mod 32 with the factor starting at 1 on the first character (Syncthing's
    variant: true Luhn starts on the last one). Doubling is a permutation of the 32
    code points, so any single substituted character changes the check character.
    """
    factor, total = 1, 0
    for char in chunk:
        addend = factor * _BASE32_VALUE[char]
        factor = 3 - factor
        total += addend // 32 + addend % 32
    return _BASE32_ALPHABET[-total % 32]


def _add_check_characters(plain: str) -> str:
    """The 56 characters of a device ID: each 13-character chunk and its check character."""
    chunks = (plain[i : i + _LUHN_CHUNK_CHARS] for i in range(0, len(plain), _LUHN_CHUNK_CHARS))
    return "".join(chunk + _luhn32(chunk) for chunk in chunks)


def _remove_check_characters(checked: str, text: str) -> str:
    """The 52 base32 characters of a checked device ID; raises InvalidIdError on a bad check."""
    step = _LUHN_CHUNK_CHARS + 1
    chunks = []
    for number, start in enumerate(range(0, len(checked), step), start=1):
        chunk, check = checked[start : start + _LUHN_CHUNK_CHARS], checked[start + step - 1]
        if _luhn32(chunk) != check:
            raise InvalidIdError(
                f"{_echo(text)} is not a device ID (check character {number} of 4 is wrong:"
                " a character is mistyped)"
            )
        chunks.append(chunk)
    return "".join(chunks)


def _grouped(chars: str, size: int) -> str:
    """``chars`` in dash-separated groups of ``size``."""
    return "-".join(chars[i : i + size] for i in range(0, len(chars), size))


@dataclass(frozen=True, slots=True, order=True)
class DeviceId:
    """A device's identity: the SHA-256 digest of its certificate's DER bytes.

    A value: hashable, ordered by digest, usable as a dict key. ``str()`` gives the
    grouped Syncthing form (see the module docstring). Raises InvalidIdError if
    ``digest`` is not 32 bytes.
    """

    digest: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.digest, bytes) or len(self.digest) != DEVICE_ID_DIGEST_BYTES:
            raise InvalidIdError(f"a device ID digest is {DEVICE_ID_DIGEST_BYTES} bytes")

    @classmethod
    def from_certificate_der(cls, der: bytes) -> DeviceId:
        """The ID of the device whose certificate (DER) is ``der``; does not parse it."""
        return cls(hashlib.sha256(der).digest())

    @classmethod
    def parse(cls, text: str) -> DeviceId:
        """Parse a device ID as a person typed or pasted it.

        Accepts any case, dashes and whitespace anywhere, and ``0``/``1``/``8`` for
        ``O``/``I``/``B`` as Syncthing does. Raises InvalidIdError saying what is wrong:
        length, characters, a check character, or an impossible last character.
        """
        compact = _normalise(text, "device ID")
        if len(compact) != _DEVICE_ID_CHECKED_CHARS:
            raise InvalidIdError(
                f"{_echo(text)} is not a device ID (it has {len(compact)} letters and digits,"
                f" a device ID has {_DEVICE_ID_CHECKED_CHARS})"
            )
        plain = _remove_check_characters(compact, text)
        return cls(_decode_canonical(plain, text, "device ID"))

    def __str__(self) -> str:
        checked = _add_check_characters(_base32(self.digest))
        return _grouped(checked, _DEVICE_ID_GROUP_CHARS)

    def __repr__(self) -> str:
        return f"DeviceId('{self}')"

    def short(self) -> str:
        """The first group of seven characters of the printed form, for log lines."""
        return _base32(self.digest)[:_DEVICE_ID_GROUP_CHARS]


@dataclass(frozen=True, slots=True, order=True)
class ShareId:
    """A share's random 128-bit ID.

    Printed as the 26 characters of its lowercase RFC 4648 base32 encoding without
    padding, in dash-separated groups of 5, 5, 5, 5 and 6 characters, for example
    ``ShareId(bytes(16))`` prints as ``aaaaa-aaaaa-aaaaa-aaaaa-aaaaaa``. A value:
    hashable, ordered by ``raw``, usable as a dict key. Raises InvalidIdError if
    ``raw`` is not 16 bytes.
    """

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != SHARE_ID_BYTES:
            raise InvalidIdError(f"a share ID is {SHARE_ID_BYTES} bytes")

    @classmethod
    def new(cls) -> ShareId:
        """A fresh random share ID (from the operating system's CSPRNG)."""
        return cls(secrets.token_bytes(SHARE_ID_BYTES))

    @classmethod
    def parse(cls, text: str) -> ShareId:
        """Parse a share ID as a person typed or pasted it.

        Accepts any case, dashes and whitespace anywhere, and ``0``/``1``/``8`` for
        ``o``/``i``/``b``. Raises InvalidIdError on a wrong length, a character outside
        base32, or an impossible last character. There is no check character, so a
        mistyped letter gives another (valid) share ID.
        """
        compact = _normalise(text, "share ID")
        if len(compact) != _SHARE_ID_CHARS:
            raise InvalidIdError(
                f"{_echo(text)} is not a share ID (it has {len(compact)} letters and digits,"
                f" a share ID has {_SHARE_ID_CHARS})"
            )
        return cls(_decode_canonical(compact, text, "share ID"))

    def __str__(self) -> str:
        plain = _base32(self.raw).lower()
        last_group_start = _SHARE_ID_CHARS - _SHARE_ID_GROUP_CHARS - 1
        head, tail = plain[:last_group_start], plain[last_group_start:]
        return f"{_grouped(head, _SHARE_ID_GROUP_CHARS)}-{tail}"

    def __repr__(self) -> str:
        return f"ShareId('{self}')"
