"""Two in-process mirrors on real folders, with in-memory doc stores, for the
tests of chunked files: ``Device`` (a mirror and its store), ``send`` ("the network":
the docs one store lacks copied from the other), ``restart`` (a new mirror on the same
folder and docs), and probes of a chunked file's docs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import trio

from p2psync.mirror import engine
from p2psync.mirror.chunked import chunk_order
from p2psync.mirror.chunkfile import Chunking
from p2psync.mirror.engine import Mirror, wall_ms
from p2psync.mirror.hlc import HybridClock
from p2psync.replica.doc import DocReplica
from p2psync.storage.layout import marker_dir
from tests.support.mirror import Store

CHUNKING = Chunking(file_bytes=2_000, chunk_bytes=512)


class Device:
    """A mirror on the folder ``root/name``, its docs in an in-memory ``Store``."""

    def __init__(
        self, root: Path, name: str, chunking: Chunking = CHUNKING, store: Store | None = None
    ) -> None:
        self.folder = root / name
        marker_dir(self.folder).mkdir(parents=True)
        self.store = store if store is not None else Store()
        self.events: list[tuple[str, dict[str, Any]]] = []
        clock = HybridClock(name.encode(), wall_ms)
        self.mirror = Mirror(
            self.folder,
            self.store,
            clock,
            lambda type_, **f: self.events.append((type_, f)),
            name,
            chunking=chunking,
        )

    def path(self, rel: str) -> Path:
        return self.folder / rel

    async def save(self, rel: str, text: str) -> None:
        self.path(rel).write_text(text)
        await self.mirror.local_changes([rel])
        await self.mirror.flush()


async def send(source: Device, target: Device, guids: Iterable[str] | None = None) -> set[str]:
    """Copy what ``target`` lacks of ``source``'s docs; tell ``target``'s mirror."""
    sent: set[str] = set()
    for guid in guids if guids is not None else list(source.store.docs):
        doc = source.store.docs[guid]
        held = target.store.docs.setdefault(guid, DocReplica(guid))
        before = held.version()
        held.apply(doc.diff(held.state_vector()))
        if held.version() != before:
            sent.add(guid)
    await target.mirror.remote_changed(dict.fromkeys(sent, "peer"))
    await target.mirror.flush()
    return sent


def big_text(lines: int = 200) -> str:
    return "".join(f"line {n:04} 中文 😀\n" for n in range(lines))


async def synced_pair(tmp_path: Path) -> tuple[Device, Device, str]:
    """Alice creates a large ``big.txt``; bob has received it."""
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    text = big_text()
    await alice.save("big.txt", text)
    await send(alice, bob)
    return alice, bob, text


def root_of(device: Device, rel: str) -> DocReplica:
    guid = device.mirror.view.guid_for_path(rel)
    return device.store.docs[guid]


def order_of(device: Device, rel: str) -> list[str]:
    root = root_of(device, rel)
    return chunk_order(root.ydoc, root.guid)


async def delete(device: Device, rel: str) -> None:
    device.path(rel).unlink()
    await device.mirror.local_changes([rel])
    await trio.sleep(engine.VANISHED_HOLD_S)  # virtual time: then told as deleted
    await device.mirror.flush()


async def exchange(alice: Device, bob: Device) -> None:
    """Both ways, until neither has anything the other lacks."""
    while await send(alice, bob) | await send(bob, alice):
        pass


def restart(device: Device) -> Mirror:
    """A new mirror on the device's folder and docs (its old one died)."""
    device.events.clear()
    device.store.changed.clear()
    device.mirror = Mirror(
        device.folder,
        device.store,
        HybridClock(b"bob", wall_ms),
        lambda type_, **f: device.events.append((type_, f)),
        "bob",
        chunking=CHUNKING,
    )
    return device.mirror
