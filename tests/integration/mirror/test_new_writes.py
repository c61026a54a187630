"""Peers' new files written as groups (mirror/newwrites.py): each file is its doc's
content, recorded as the one-file path records it, and a file found at its path is
never written over."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import pycrdt
import pytest
import trio

from p2psync.mirror import binary, newwrites
from p2psync.mirror.engine import Mirror, wall_ms
from p2psync.mirror.hlc import HybridClock, Timestamp
from p2psync.mirror.kinds import FileKind, file_digest
from p2psync.mirror.manifest import MANIFEST_GUID, Entry, new_file_guid, put_entry
from p2psync.mirror.records import version_key
from p2psync.mirror.state import SyncTable
from p2psync.mirror.store import YDoc
from tests.support.mirror import Store, make_mirror


def peers_files(count: int) -> dict[str, bytes]:
    """A peer's folder: text files in nested folders, one in ten binary."""
    files = {}
    for i in range(count):
        name = f"d{i % 7}/e{i % 3}/f{i}"
        files[name + (".bin" if i % 10 == 0 else ".txt")] = (
            bytes([0, 255, i % 256]) * 40 if i % 10 == 0 else f"line {i}\nand more\n".encode()
        )
    return files


async def peer_adds(
    mirror: Mirror, store: Store, files: dict[str, bytes], docs: Store | None = None
) -> dict[str, str]:
    """``files`` arrive from a peer in one manifest change; path -> guid. With
    ``docs``, their docs go there instead, not yet arrived: only the manifest changed."""
    clock = HybridClock(b"peer", wall_ms)
    guids = {}
    for rel, data in files.items():
        guid = guids[rel] = new_file_guid()
        kind = FileKind.BINARY if rel.endswith(".bin") else FileKind.TEXT
        made = docs if docs is not None else store
        if kind is FileKind.BINARY:
            await made.local_edit(guid, partial(binary.put, stamp=clock.tick(), data=data))
        else:
            await made.local_edit(guid, partial(seed, text=data.decode()))
        entry = Entry(guid, rel, kind, Timestamp(wall_ms(), 0, b"peer"), exec=rel.endswith("1.txt"))
        await store.local_edit(MANIFEST_GUID, partial(put_entry, entry=entry))
    arrived = dict.fromkeys(guids.values(), "bob") if docs is None else {}
    await mirror.remote_changed({MANIFEST_GUID: "bob", **arrived})
    return guids


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the groups of new files written (``newwrites._write_all``)."""
    sizes: list[int] = []
    write_all = newwrites._write_all

    def counted(root: Path, table: SyncTable, writes: list[Any]) -> list[Any]:
        sizes.append(len(writes))
        return write_all(root, table, writes)

    monkeypatch.setattr(newwrites, "_write_all", counted)
    return sizes


def seed(doc: YDoc, text: str) -> None:
    doc.get("content", type=pycrdt.Text).insert(0, text)


def test_a_peers_new_files_are_written_as_groups_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, groups: list[int]
) -> None:
    monkeypatch.setattr(newwrites, "GROUP_FILES", 16)
    files = peers_files(100)

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        guids = await peer_adds(mirror, store, files)
        assert groups == [16] * 6 + [4]  # every file went with a group
        for rel, data in files.items():
            path = tmp_path / rel
            assert path.read_bytes() == data
            assert os.access(path, os.X_OK) == rel.endswith("1.txt")
            synced = mirror.synced.get(rel)
            assert synced is not None
            doc = store.docs[guids[rel]]
            assert synced.guid == guids[rel]
            assert synced.digest == file_digest(data)
            assert synced.stat is not None
            assert synced.stat.ino == path.stat().st_ino
            assert synced.version == version_key(doc.version())
            base = mirror.synced.base(rel)
            assert (base == doc.full_state()) if rel.endswith(".txt") else base == b""
        assert not list((tmp_path / ".p2psync" / "tmp").iterdir())
        assert not [p for p in (tmp_path / ".p2psync" / "synced").iterdir() if p.suffix]
        # A restart finds every file as recorded: nothing read as a save.
        store.changed.clear()
        again = Mirror(tmp_path, store, HybridClock(b"device", wall_ms), lambda *a, **f: None)
        await again.rescan()
        assert store.changed == []
        assert {rel: again.synced.get(rel) for rel in files} == {
            rel: mirror.synced.get(rel) for rel in files
        }

    trio.run(main)


def test_a_file_found_at_a_new_files_path_is_not_written_over(tmp_path: Path) -> None:
    """A program wrote a file where a peer's new file is to go, after the batch began:
    the group leaves it to the one-file path, which keeps what it held."""
    files = peers_files(20)
    taken = "d3/e0/f3.txt"

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        real = newwrites._write_all

        def program_writes_first(root: Path, table: SyncTable, writes: list[Any]) -> list[Any]:
            (tmp_path / taken).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / taken).write_bytes(b"a program's own text\n")
            return real(root, table, writes)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(newwrites, "_write_all", program_writes_first)
            await peer_adds(mirror, store, files)
        # As when such a file meets a peer's doc one at a time: kept as a copy.
        assert (tmp_path / taken).read_bytes() == files[taken]
        copies = [p for p in (tmp_path / ".p2psync" / "conflicts").rglob("*") if p.is_file()]
        assert [p.read_bytes() for p in copies] == [b"a program's own text\n"]
        for rel, data in files.items():
            if rel != taken:
                assert (tmp_path / rel).read_bytes() == data
        assert not list((tmp_path / ".p2psync" / "tmp").iterdir())

    trio.run(main)


def test_files_written_as_their_docs_are_not_read_again(tmp_path: Path) -> None:
    """The watcher's echo of the group's own writes, and the peer's changes that brought
    them, find each file and doc as recorded: no doc is read again (an unloaded one
    would be loaded from its log for nothing), and the share is told it may let them
    go. A file saved since, or a doc changed since, is still reconciled."""
    files = peers_files(30)

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        guids = await peer_adds(mirror, store, files)
        assert store.released == set(guids.values())
        store.read.clear()
        store.changed.clear()
        await mirror.local_changes(list(files))  # the echo of the group's writes
        await mirror.remote_changed(dict.fromkeys(guids.values(), "bob"))
        assert store.read == set()
        assert store.changed == []
        saved, edited = "d2/e2/f2.txt", "d4/e1/f4.txt"
        (tmp_path / saved).write_bytes(b"saved here\n")
        await store.local_edit(guids[edited], partial(seed, text="more "))
        store.changed.clear()
        await mirror.local_changes(list(files))
        await mirror.remote_changed(dict.fromkeys(guids.values(), "bob"))
        assert store.read == {guids[saved], guids[edited]}
        assert store.changed == [guids[saved]]  # the save, taken into its doc
        assert (tmp_path / edited).read_bytes() == b"more " + files[edited]

    trio.run(main)


def test_docs_arriving_after_the_manifest_that_names_them_are_written_as_groups(
    tmp_path: Path, groups: list[int]
) -> None:
    """A first sync's manifest comes first; the docs follow a window at a time. Those
    of one batch are written as a group, not one by one (the one-file path)."""
    files = peers_files(40)

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        later = Store()  # the docs, held back until the manifest was taken
        guids = await peer_adds(mirror, store, files, docs=later)
        assert not any((tmp_path / rel).exists() for rel in files)  # no doc here yet
        names = list(files)
        for batch in (names[:25], names[25:]):
            store.docs.update({guids[rel]: later.docs[guids[rel]] for rel in batch})
            await mirror.remote_changed(dict.fromkeys((guids[rel] for rel in batch), "bob"))
        assert [n for n in groups if n] == [25, 15]  # none went one by one
        for rel, data in files.items():
            assert (tmp_path / rel).read_bytes() == data
            assert mirror.synced[rel].guid == guids[rel]

    trio.run(main)
