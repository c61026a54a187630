"""What a device announces over mDNS: the TXT record, its limits, and share hashes.

Pure: no sockets, no threads, no zeroconf. ``encode_txt`` builds the TXT properties
of our service; ``parse_txt`` turns a peer's properties (hostile bytes from anyone on
the LAN) into an :class:`Announcement` or raises MalformedAnnouncementError.

Share hashes (docs/discovery.md): for each share ID we hold we publish
``HMAC-SHA256(key=share ID, msg=SHARE_HASH_CONTEXT | instance ID | device ID)``
truncated to SHARE_HASH_BYTES. The instance ID is the salt: it is new on every start,
so hashes cannot be followed across restarts or compared between devices. A device
that holds the share computes the same value from the announcer's instance and
device IDs and recognises it; an outsider, without the 128-bit share ID, cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from p2psync.errors import InvalidIdError, P2PSyncError
from p2psync.ids import DeviceId, ShareId

SERVICE_TYPE = "_p2psync._tcp.local."
TXT_VERSION = b"1"
SHARE_HASH_CONTEXT = b"p2psync share hash v1\x00"
SHARE_HASH_BYTES = 8
HASHES_PER_KEY = 30
"""Hashes in one TXT string: 2-byte key, ``=``, 240 bytes: under the 255-byte limit."""
HASH_KEYS = ("h0", "h1", "h2")
MAX_SHARE_HASHES = HASHES_PER_KEY * len(HASH_KEYS)
"""Shares announced at most; a device holding more announces the first ones (sorted)."""
INSTANCE_ID_BYTES = 8
MAX_TXT_KEYS = 32
MAX_TXT_VALUE_BYTES = 255
MAX_VERSIONS = 16
MAX_PROTOCOL_VERSION = 0xFFFF


class MalformedAnnouncementError(P2PSyncError):
    """An mDNS announcement that is not a valid p2psync TXT record (says what is wrong)."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """What a device says about itself in its TXT record."""

    device_id: DeviceId
    instance_id: str
    """Hex, new on every start of the daemon: a change means the device restarted."""
    versions: tuple[int, ...]
    share_hashes: frozenset[bytes]


def new_instance_id() -> str:
    """A fresh random instance ID (hex)."""
    return secrets.token_hex(INSTANCE_ID_BYTES)


def share_hash(share: ShareId, instance_id: str, device: DeviceId) -> bytes:
    """The salted hash of ``share`` as ``device`` announces it in ``instance_id``."""
    message = SHARE_HASH_CONTEXT + instance_id.encode("ascii") + device.digest
    return hmac.new(share.raw, message, hashlib.sha256).digest()[:SHARE_HASH_BYTES]


def common_shares(announcement: Announcement, held: Iterable[ShareId]) -> list[ShareId]:
    """The shares of ``held`` whose hash ``announcement`` carries (held by both)."""
    a = announcement
    return [s for s in held if share_hash(s, a.instance_id, a.device_id) in a.share_hashes]


def encode_txt(
    device: DeviceId, instance_id: str, versions: Iterable[int], shares: Iterable[ShareId]
) -> dict[str, bytes]:
    """The TXT properties announcing ``device`` with ``shares`` (at most MAX_SHARE_HASHES)."""
    hashes = [share_hash(s, instance_id, device) for s in sorted(shares)[:MAX_SHARE_HASHES]]
    txt = {
        "v": TXT_VERSION,
        "id": str(device).encode("ascii"),
        "in": instance_id.encode("ascii"),
        "pv": ",".join(str(v) for v in versions).encode("ascii"),
    }
    for index, key in enumerate(HASH_KEYS):
        chunk = hashes[index * HASHES_PER_KEY : (index + 1) * HASHES_PER_KEY]
        if chunk:
            txt[key] = b"".join(chunk)
    return txt


def parse_txt(properties: Mapping[bytes, bytes | None]) -> Announcement:
    """Validate a peer's TXT properties. Unknown keys are ignored (later versions may
    add some); raises MalformedAnnouncementError naming the bad field."""
    if len(properties) > MAX_TXT_KEYS:
        raise MalformedAnnouncementError(f"the TXT record has more than {MAX_TXT_KEYS} keys")
    for key, value in properties.items():
        if len(key) + len(value or b"") + 1 > MAX_TXT_VALUE_BYTES:
            raise MalformedAnnouncementError(f"TXT entry {key[:16]!r} is too long")
    if _field(properties, "v") != TXT_VERSION:
        raise MalformedAnnouncementError("the TXT record is not version 1")
    return Announcement(
        device_id=_device_id(_field(properties, "id")),
        instance_id=_instance_id(_field(properties, "in")),
        versions=_versions(_field(properties, "pv")),
        share_hashes=_hashes(properties),
    )


def _field(properties: Mapping[bytes, bytes | None], key: str) -> bytes:
    value = properties.get(key.encode("ascii"))
    if value is None:
        raise MalformedAnnouncementError(f"the TXT record has no {key!r}")
    return value


def _device_id(raw: bytes) -> DeviceId:
    try:
        return DeviceId.parse(raw.decode("ascii"))
    except (UnicodeDecodeError, InvalidIdError) as exc:
        raise MalformedAnnouncementError(f"the TXT device ID is invalid: {exc}") from None


def _instance_id(raw: bytes) -> str:
    text = raw.decode("ascii", errors="replace")
    if len(raw) != 2 * INSTANCE_ID_BYTES or not all(c in "0123456789abcdef" for c in text):
        raise MalformedAnnouncementError(
            f"the TXT instance ID is not {2 * INSTANCE_ID_BYTES} lowercase hex digits"
        )
    return text


def _versions(raw: bytes) -> tuple[int, ...]:
    parts = raw.split(b",")
    if len(parts) > MAX_VERSIONS or not all(p.isdigit() and len(p) <= 5 for p in parts):
        raise MalformedAnnouncementError("the TXT protocol versions are not a list of numbers")
    versions = tuple(int(p) for p in parts)
    if not all(0 < v <= MAX_PROTOCOL_VERSION for v in versions):
        raise MalformedAnnouncementError("a TXT protocol version is out of range")
    return versions


def _hashes(properties: Mapping[bytes, bytes | None]) -> frozenset[bytes]:
    hashes: set[bytes] = set()
    for key in HASH_KEYS:
        raw = properties.get(key.encode("ascii")) or b""
        if len(raw) % SHARE_HASH_BYTES or len(raw) > HASHES_PER_KEY * SHARE_HASH_BYTES:
            raise MalformedAnnouncementError(f"TXT {key!r} is not a list of share hashes")
        hashes.update(raw[i : i + SHARE_HASH_BYTES] for i in range(0, len(raw), SHARE_HASH_BYTES))
    return frozenset(hashes)
