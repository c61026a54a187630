"""Fakes and probes for the mirror: ``make_mirror`` builds a ``Mirror`` on an in-memory
store (``Store``); ``entry`` makes a manifest entry; ``read``, ``live_entries`` and
``holds`` look at a device's folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import pycrdt

from p2psync.mirror.engine import Mirror, wall_ms
from p2psync.mirror.hlc import HybridClock, Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import (
    MANIFEST_GUID,
    Entry,
    new_file_guid,
    put_entry,
    read_entries,
)
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica
from p2psync.storage import read_updates
from p2psync.storage.compaction import replay
from p2psync.storage.layout import log_path, marker_dir
from tests.support.daemons import Device

YDoc = pycrdt.Doc[Any]


class Store:
    """The share as the mirror sees it: docs in memory; records which docs were read
    and which were changed."""

    def __init__(self) -> None:
        self.docs: dict[str, DocReplica] = {}
        self.read: set[str] = set()
        self.changed: list[str] = []
        self.released: set[str] = set()
        """Docs the mirror said it wrote and needs no more (``written``)."""

    def doc(self, guid: str) -> DocReplica | None:
        self.read.add(guid)
        return self.docs.get(guid)

    def guids(self) -> Iterable[str]:
        return list(self.docs)

    async def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> None:
        self.docs.setdefault(guid, DocReplica(guid)).local_edit(edit)
        self.changed.append(guid)

    async def create_docs(self, edits: Mapping[str, Callable[[YDoc], None]]) -> dict[str, str]:
        for guid, edit in edits.items():
            await self.local_edit(guid, edit)
        return {}

    async def local_update(self, guid: str, update: bytes, *, notify: bool = True) -> None:
        self.docs.setdefault(guid, DocReplica(guid)).apply(update)
        self.changed.append(guid)

    def version(self, guid: str) -> DocVersion | None:
        doc = self.docs.get(guid)
        return doc.version() if doc is not None else None

    async def durable(self, guid: str) -> None:
        """Everything is in memory: nothing to wait for."""

    def written(self, guids: Collection[str]) -> None:
        self.released.update(guids)


def make_mirror(
    root: Path, store: Store | None = None
) -> tuple[Mirror, Store, list[tuple[str, dict[str, Any]]]]:
    marker_dir(root).mkdir(parents=True)
    store = store if store is not None else Store()
    events: list[tuple[str, dict[str, Any]]] = []
    clock = HybridClock(b"device", wall_ms)
    mirror = Mirror(root, store, clock, lambda type_, **f: events.append((type_, f)), "s")
    return mirror, store, events


def entry(guid: str, path: str, wall: int = 1, **fields: Any) -> Entry:
    """A text file's manifest entry stamped at ``wall`` ms by device ``d``."""
    return Entry(guid, path, FileKind.TEXT, Timestamp(wall, 0, b"d"), **fields)


def peer_edit(doc: DocReplica, edit: Callable[[pycrdt.Text], None]) -> bytes:
    peer: YDoc = pycrdt.Doc(client_id=777)
    peer.apply_update(doc.full_state())
    before = peer.get_state()
    edit(peer.get("content", type=pycrdt.Text))
    return peer.get_update(before)


def read(path: Path) -> bytes | None:
    """The bytes of ``path``, None if it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def live_entries(device: Device, path: str) -> list[str]:
    """The guids of the live manifest entries of ``path`` in the device's manifest log."""
    doc = replay(read_updates(log_path(device.folder, MANIFEST_GUID)))
    entries, _ = read_entries(doc)
    return sorted(e.guid for e in entries.values() if e.path == path and not e.deleted)


def holds(path: Path, data: bytes | None) -> Callable[[], bool]:
    """A condition for ``wait_for``: ``path`` holds ``data`` (None: does not exist)."""
    return lambda: read(path) == data if data is not None else not os.path.lexists(path)


async def peer_creates(mirror: Mirror, store: Store, path: str, text: str, wall_ms: int) -> str:
    """A peer's new file ``path`` holding ``text``, created at ``wall_ms``, arrives."""
    guid = new_file_guid()
    await store.local_edit(guid, lambda d: d.get("content", type=pycrdt.Text).insert(0, text))
    entry = Entry(guid, path, FileKind.TEXT, Timestamp(wall_ms, 0, b"peer"))
    await store.local_edit(MANIFEST_GUID, lambda d: put_entry(d, entry))
    await mirror.remote_changed({MANIFEST_GUID: "bob", guid: "bob"})
    return guid
