"""Identifiers: device IDs, share IDs and Yjs client IDs.

A device ID is the SHA-256 of the device's certificate (DER), written Syncthing style:
base32 without padding (52 characters), split into four groups of 13, each followed
by a Luhn mod 32 check character, then shown as eight dash-separated groups of seven.
Parsing accepts any case, with or without dashes and spaces, and rejects a wrong
check character.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

from p2psync.errors import InvalidIdError

CLIENT_ID_BITS = 32
DEVICE_ID_DIGEST_BYTES = 32
SHARE_ID_BYTES = 16
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CHUNK_CHARS = 13
_GROUP_CHARS = 7


def new_client_id() -> int:
    """Return a fresh random 32-bit Yjs client ID, never 0.

    Yjs uses 32-bit client IDs; pycrdt's default 53-bit IDs make encoded documents
    about 1.7x larger. A client ID must never be reused across processes or after a
    restart that lost state, so every Doc the daemon edits gets a new one.
    """
    return secrets.randbelow(2**CLIENT_ID_BITS - 1) + 1


def _luhn32(chunk: str) -> str:
    """The Luhn mod 32 check character of a base32 chunk."""
    factor, total = 1, 0
    for char in chunk:
        addend = factor * _ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return _ALPHABET[(32 - total % 32) % 32]


@dataclass(frozen=True, slots=True, order=True)
class DeviceId:
    """A device's identity: the SHA-256 digest of its certificate."""

    digest: bytes

    def __post_init__(self) -> None:
        if len(self.digest) != DEVICE_ID_DIGEST_BYTES:
            raise InvalidIdError(f"a device ID digest has {DEVICE_ID_DIGEST_BYTES} bytes")

    @classmethod
    def from_certificate_der(cls, der: bytes) -> DeviceId:
        """The ID of the device whose certificate is ``der``."""
        return cls(hashlib.sha256(der).digest())

    @classmethod
    def parse(cls, text: str) -> DeviceId:
        """Parse the printed form; raises InvalidIdError naming what is wrong."""
        compact = "".join(text.split()).replace("-", "").upper()
        if len(compact) != 4 * (_CHUNK_CHARS + 1):
            raise InvalidIdError(f"{text!r} is not a device ID (it should have 56 characters)")
        if any(c not in _ALPHABET for c in compact):
            raise InvalidIdError(f"{text!r} is not a device ID (letters A-Z and digits 2-7 only)")
        chunks = []
        for i in range(4):
            group = compact[i * 14 : i * 14 + 14]
            chunk, check = group[:_CHUNK_CHARS], group[_CHUNK_CHARS]
            if _luhn32(chunk) != check:
                raise InvalidIdError(
                    f"{text!r} is not a device ID (check character {i + 1} is wrong)"
                )
            chunks.append(chunk)
        try:
            return cls(base64.b32decode("".join(chunks) + "===="))
        except (binascii.Error, InvalidIdError):
            raise InvalidIdError(f"{text!r} is not a device ID") from None

    def __str__(self) -> str:
        plain = base64.b32encode(self.digest).decode().rstrip("=")
        chunks = [plain[i : i + _CHUNK_CHARS] for i in range(0, len(plain), _CHUNK_CHARS)]
        checked = "".join(c + _luhn32(c) for c in chunks)
        return "-".join(checked[i : i + _GROUP_CHARS] for i in range(0, len(checked), _GROUP_CHARS))

    def __repr__(self) -> str:
        return f"DeviceId({self.short()})"

    def short(self) -> str:
        """The first group of the printed form, for log lines."""
        return str(self)[:_GROUP_CHARS]


@dataclass(frozen=True, slots=True, order=True)
class ShareId:
    """A share's random 128-bit ID, printed as lowercase base32 in dash-separated groups."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != SHARE_ID_BYTES:
            raise InvalidIdError(f"a share ID has {SHARE_ID_BYTES} bytes")

    @classmethod
    def new(cls) -> ShareId:
        return cls(secrets.token_bytes(SHARE_ID_BYTES))

    @classmethod
    def parse(cls, text: str) -> ShareId:
        """Parse the printed form (any case, dashes optional); raises InvalidIdError."""
        compact = "".join(text.split()).replace("-", "").upper()
        try:
            raw = base64.b32decode(compact + "=" * (-len(compact) % 8))
        except binascii.Error:
            raise InvalidIdError(f"{text!r} is not a share ID") from None
        if len(raw) != SHARE_ID_BYTES or len(compact) != 26:
            raise InvalidIdError(f"{text!r} is not a share ID (it should have 26 characters)")
        return cls(raw)

    def __str__(self) -> str:
        plain = base64.b32encode(self.raw).decode().rstrip("=").lower()
        return "-".join(plain[i : i + 5] for i in range(0, len(plain), 5))

    def __repr__(self) -> str:
        return f"ShareId({self})"
