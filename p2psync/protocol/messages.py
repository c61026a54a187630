"""The sync engine's messages: what replicas of a share say to each other.

The sync engine (replica/) speaks in these values; wire.py encodes them. Every message
names its share, and every doc message its doc guid.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2psync.protocol.yjs import DocVersion

EMPTY_STATE_VECTOR = b"\x00"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One doc as a replica's index advertises it."""

    guid: str
    sequence: int
    version: DocVersion


@dataclass(frozen=True, slots=True)
class IndexRequest:
    """Send me your index entries changed after ``since`` (if your index is still
    ``index_id``; otherwise all of them)."""

    share_id: bytes
    index_id: bytes
    since: int


@dataclass(frozen=True, slots=True)
class Index:
    """Some of a replica's index: the docs it changed, with their versions."""

    share_id: bytes
    index_id: bytes
    max_sequence: int
    entries: tuple[IndexEntry, ...]


@dataclass(frozen=True, slots=True)
class SyncStep1:
    """My state vector of doc ``guid``: send me what I am missing."""

    share_id: bytes
    guid: str
    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    """The Yjs v1 update you were missing of doc ``guid``."""

    share_id: bytes
    guid: str
    update: bytes


@dataclass(frozen=True, slots=True)
class Update:
    """Live changes to doc ``guid``, as Yjs v1 updates."""

    share_id: bytes
    guid: str
    updates: list[bytes]


SyncMessage = IndexRequest | Index | SyncStep1 | SyncStep2 | Update
