"""Invite codes: the one-time text ``p2psync invite`` prints and ``p2psync join`` reads.

Pure: no I/O, no clock (``now`` is passed in). A code carries everything a new device
needs to join a share (docs/security.md): the share ID, the inviter's device ID (which the
joiner pins when it dials), the addresses to dial, a random 128-bit secret whose
knowledge the joiner proves inside the authenticated session, and an expiry. Binary
layout, version 1::

    version u8 | share ID 16 | inviter device ID 32 | expires u32 (Unix seconds, BE)
    | secret 16 | address count u8 (0..8) | per address: length u8 (1..64), UTF-8
    "HOST:PORT" | checksum 4 = SHA-256(all the bytes before)[:4]

printed as upper-case RFC 4648 base32 without padding in dash-separated groups of 6.
Parsing accepts any case, whitespace and dashes anywhere, and ``0``/``1``/``8`` for
``O``/``I``/``B``. A mistyped character fails the checksum (a false accept has odds of
1 in 2^32), or, in the last character, the rule that its unused bits are zero; either is
reported as a typo, never as a refused invite.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
from dataclasses import dataclass

from p2psync.config import parse_address
from p2psync.errors import ConfigError, InvalidIdError, InvalidInviteError
from p2psync.ids import DeviceId, ShareId

INVITE_VERSION = 1
SECRET_BYTES = 16
CHECKSUM_BYTES = 4
MAX_ADDRESSES = 8
MAX_ADDRESS_BYTES = 64
MAX_EXPIRY_S = 2**32 - 1
MAX_INVITE_TEXT_CHARS = 2048
"""Longer input is refused before any work (the longest code prints in about 1,100)."""
_GROUP_CHARS = 6
_FIXED = struct.Struct(">B16s32sI16sB")
_TYPOS = str.maketrans("018", "OIB")
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


@dataclass(frozen=True, slots=True)
class InviteCode:
    """What one invite code says. ``expires`` is in Unix seconds."""

    share_id: ShareId
    inviter: DeviceId
    addresses: tuple[str, ...]
    secret: bytes
    expires: int

    @classmethod
    def new(
        cls, share_id: ShareId, inviter: DeviceId, addresses: tuple[str, ...], expires: int
    ) -> InviteCode:
        """A code with a fresh random secret. Raises InvalidInviteError for more than
        MAX_ADDRESSES addresses, an address too long, or an expiry out of range."""
        code = cls(share_id, inviter, addresses, secrets.token_bytes(SECRET_BYTES), expires)
        code.to_bytes()  # checks the limits
        return code

    def to_bytes(self) -> bytes:
        """The binary form, checksum included (see the module docstring)."""
        if len(self.addresses) > MAX_ADDRESSES:
            raise InvalidInviteError(f"an invite holds at most {MAX_ADDRESSES} addresses")
        if not 0 <= self.expires <= MAX_EXPIRY_S:
            raise InvalidInviteError("the invite's expiry is out of range")
        body = [
            _FIXED.pack(
                INVITE_VERSION, self.share_id.raw, self.inviter.digest, self.expires,
                self.secret, len(self.addresses),
            )
        ]  # fmt: skip
        for address in self.addresses:
            parse_address(address)  # ConfigError (a UsageError) if not HOST:PORT
            raw = address.encode("utf-8")
            if not 0 < len(raw) <= MAX_ADDRESS_BYTES:
                raise InvalidInviteError(f"address {address!r} is empty or too long for an invite")
            body += [bytes([len(raw)]), raw]
        data = b"".join(body)
        return data + _checksum(data)

    def __str__(self) -> str:
        chars = base64.b32encode(self.to_bytes()).decode("ascii").rstrip("=")
        return "-".join(chars[i : i + _GROUP_CHARS] for i in range(0, len(chars), _GROUP_CHARS))

    def __repr__(self) -> str:  # never print the secret by accident (logs, tracebacks)
        return f"InviteCode(share={self.share_id}, inviter={self.inviter.short()})"

    def expired(self, now: float) -> bool:
        return now >= self.expires


def _checksum(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:CHECKSUM_BYTES]


def parse_invite(text: str) -> InviteCode:
    """The invite in ``text`` as a person pasted or typed it.

    Raises InvalidInviteError with one sentence: too long, a character that cannot be
    in a code, a checksum that does not match (a typo), cut short, trailing bytes, a
    newer version, or a field that is not what the inviter could have written.
    """
    if not isinstance(text, str) or len(text) > MAX_INVITE_TEXT_CHARS:
        raise InvalidInviteError(
            f"this is not an invite code (longer than {MAX_INVITE_TEXT_CHARS} characters)"
        )
    chars = "".join(text.split()).replace("-", "")
    if not chars.isascii():
        raise InvalidInviteError("this is not an invite code (it has non-ASCII characters)")
    chars = chars.upper().translate(_TYPOS)
    if not chars or any(c not in _ALPHABET for c in chars):
        raise InvalidInviteError("this is not an invite code (letters A-Z and digits 2-7 only)")
    try:
        data = base64.b32decode(chars + "=" * (-len(chars) % 8))
    except binascii.Error:
        raise InvalidInviteError("this invite code has a wrong length: is it cut short?") from None
    if base64.b32encode(data).decode("ascii").rstrip("=") != chars:
        # The last character's unused low bits were not zero: base32 decoding drops
        # them, so without this check a typo there would go unnoticed.
        raise InvalidInviteError(
            "this invite code does not check out: a character is mistyped or missing"
        )
    if len(data) < _FIXED.size + CHECKSUM_BYTES:
        raise InvalidInviteError("this invite code is too short: is it cut short?")
    body, check = data[:-CHECKSUM_BYTES], data[-CHECKSUM_BYTES:]
    if _checksum(body) != check:
        raise InvalidInviteError(
            "this invite code does not check out: a character is mistyped or missing"
        )
    return _decode_body(body)


def _decode_body(body: bytes) -> InviteCode:
    version, share, inviter, expires, secret, count = _FIXED.unpack_from(body)
    if version != INVITE_VERSION:
        raise InvalidInviteError(
            f"this invite code has version {version}; this p2psync reads version {INVITE_VERSION}"
        )
    if count > MAX_ADDRESSES:
        raise InvalidInviteError(f"this invite code lists {count} addresses (at most 8)")
    offset, addresses = _FIXED.size, []
    for _ in range(count):
        length = body[offset] if offset < len(body) else 0
        raw = body[offset + 1 : offset + 1 + length]
        if not 0 < length <= MAX_ADDRESS_BYTES or len(raw) != length:
            raise InvalidInviteError("this invite code holds a malformed address")
        try:
            address = raw.decode("utf-8")
            parse_address(address)
        except (UnicodeDecodeError, ConfigError):
            raise InvalidInviteError("this invite code holds a malformed address") from None
        addresses.append(address)
        offset += 1 + length
    if offset != len(body):
        raise InvalidInviteError("this invite code has bytes after its last address")
    try:
        return InviteCode(ShareId(share), DeviceId(inviter), tuple(addresses), secret, expires)
    except InvalidIdError as exc:  # cannot happen with the fixed sizes; kept typed anyway
        raise InvalidInviteError(f"this invite code is malformed: {exc}") from None
