"""Whole files in a doc: last writer wins by hybrid logical clock. Pure, over pycrdt.

A binary file's doc holds a root ``Y.Map`` named ``versions``: version key ->
the file's bytes. A key spells the version's hybrid timestamp so that keys sort as
the timestamps do (``<wall_ms:015>-<counter:010>-<device hex>``). A save writes its
version and deletes every version it replaces (those its device had seen), so after
concurrent saves several keys remain: the greatest is the file on every device, the
others are versions that lost (the mirror keeps them under ``.p2psync/conflicts/``,
raises an event, then drops them with ``drop``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pycrdt

from p2psync.mirror.hlc import Timestamp

VERSIONS = "versions"


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a whole file."""

    key: str
    data: bytes

    @property
    def stamp(self) -> Timestamp:
        wall, counter, device = self.key.split("-")
        return Timestamp(int(wall), int(counter), bytes.fromhex(device))


def version_key(stamp: Timestamp) -> str:
    """The map key of the version stamped ``stamp`` (sorts as timestamps do)."""
    return f"{stamp.wall_ms:015d}-{stamp.counter:010d}-{stamp.device.hex()}"


def device_of(key: str) -> bytes:
    """The device a version key names (b"" if the key is not of ``version_key``'s form)."""
    try:
        return bytes.fromhex(key.rsplit("-", 1)[-1])
    except ValueError:
        return b""


def _versions(doc: pycrdt.Doc[Any]) -> list[Version]:
    found = []
    for key, data in doc.get(VERSIONS, type=pycrdt.Map).items():
        if isinstance(data, bytes | bytearray):
            try:
                _ = Version(key, b"").stamp
            except ValueError:
                continue  # not a version key: ignored
            found.append(Version(key, bytes(data)))
    return sorted(found, key=lambda v: v.key)


def current(doc: pycrdt.Doc[Any]) -> Version | None:
    """The version that is the file (the latest), None if there is none yet."""
    versions = _versions(doc)
    return versions[-1] if versions else None


def losers(doc: pycrdt.Doc[Any]) -> list[Version]:
    """Versions that lost to a concurrent later one."""
    return _versions(doc)[:-1]


def put(doc: pycrdt.Doc[Any], stamp: Timestamp, data: bytes) -> None:
    """Record a save of ``data`` at ``stamp``, replacing every version held now."""
    versions = doc.get(VERSIONS, type=pycrdt.Map)
    with doc.transaction():
        for key in list(versions.keys()):
            del versions[key]
        versions[version_key(stamp)] = data


def drop(doc: pycrdt.Doc[Any], gone: Iterable[Version]) -> None:
    """Remove versions (losers that were kept elsewhere)."""
    versions = doc.get(VERSIONS, type=pycrdt.Map)
    with doc.transaction():
        for version in gone:
            if version.key in versions:
                del versions[version.key]
