"""The file <-> doc engine in one process, against real files (mirror/engine.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pycrdt
import trio

from p2psync.mirror.engine import Mirror, wall_ms
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.manifest import MANIFEST_GUID, set_fields
from p2psync.replica.doc import DocReplica
from tests.support.mirror import Store, make_mirror, peer_edit

YDoc = pycrdt.Doc[Any]


async def taken_in(mirror: Mirror, store: Store, path: Path, text: str) -> DocReplica:
    """``path`` written with ``text`` and taken in by ``mirror``: its doc."""
    path.write_text(text)
    await mirror.local_changes([path.name])
    return store.docs[mirror.view.guid_for_path(path.name)]


def test_a_save_made_while_a_remote_change_arrives_is_merged_and_reported(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        mirror, store, events = make_mirror(tmp_path)
        path = tmp_path / "a.txt"
        doc = await taken_in(mirror, store, path, "hello\n")
        assert doc.text() == "hello\n"
        # A peer appends a line; before the mirror hears of it, the file is saved here.
        doc.apply(peer_edit(doc, lambda t: t.insert(len(t), "from the peer\n")))
        path.write_text("hi, hello\n")
        await mirror.remote_changed({doc.guid: "bob"})
        assert path.read_text() == "hi, hello\nfrom the peer\n"
        assert doc.text() == "hi, hello\nfrom the peer\n"
        assert ("file-merged", {"share": "s", "path": "a.txt", "peer": "bob"}) in events

    trio.run(main)


def test_the_daemons_own_write_is_not_read_back_as_a_save(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        doc = await taken_in(mirror, store, tmp_path / "a.txt", "one\n")
        doc.apply(peer_edit(doc, lambda t: t.insert(0, "zero\n")))
        await mirror.remote_changed({doc.guid: "bob"})
        state = doc.full_state()
        await mirror.local_changes(["a.txt"])  # the watcher reports our own write
        assert doc.full_state() == state
        assert (tmp_path / "a.txt").read_text() == "zero\none\n"

    trio.run(main)


def test_a_save_within_the_clock_tick_of_the_daemons_write_is_taken_in(tmp_path: Path) -> None:
    """An editor saves over a peer's change the daemon has just written, in place and
    at the same size, within the filesystem clock's tick: size, inode and mtime are
    those recorded. The save is read as one (it was written over with the doc's
    older text)."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        path = tmp_path / "a.txt"
        doc = await taken_in(mirror, store, path, "one\n")
        doc.apply(peer_edit(doc, lambda t: t.insert(0, "two\n")))
        await mirror.remote_changed({doc.guid: "bob"})
        written = path.stat()
        with path.open("r+b") as file:  # the same inode, the same size
            file.write(b"TWO\n")
        os.utime(path, ns=(written.st_atime_ns, written.st_mtime_ns))  # the same tick
        assert (path.stat().st_ino, path.stat().st_size) == (written.st_ino, written.st_size)
        await mirror.local_changes(["a.txt"])
        assert path.read_text() == "TWO\none\n"
        assert doc.text() == "TWO\none\n"

    trio.run(main)


def test_restarting_on_a_folder_with_docs_never_reseeds(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        (tmp_path / "a.txt").write_text("text\n")
        await mirror.rescan()
        await mirror.flush()
        # A new mirror over the same docs (a restart): the scan finds the same file.
        again = Mirror(tmp_path, store, HybridClock(b"device", wall_ms), lambda *a, **f: None)
        await again.rescan()
        await again.flush()
        guid = again.view.guid_for_path("a.txt")
        assert store.docs[guid].text() == "text\n"
        assert (tmp_path / "a.txt").read_text() == "text\n"
        assert len([g for g in store.docs if g != MANIFEST_GUID]) == 1

    trio.run(main)


def test_a_peer_entry_pointing_through_a_symlink_writes_nothing_outside(tmp_path: Path) -> None:
    async def main() -> None:
        root = tmp_path / "share"
        outside = tmp_path / "outside"
        outside.mkdir()
        mirror, store, events = make_mirror(root)
        (root / "link").symlink_to(outside)
        (root / "real.txt").write_text("real\n")
        await mirror.local_changes(["real.txt"])
        guid = mirror.view.guid_for_path("real.txt")
        # A peer renames the file into the linked folder.
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, guid, path="link/x.txt"))
        await mirror.remote_changed({MANIFEST_GUID: "mallory"})
        assert list(outside.iterdir()) == []
        assert any(t == "file-error" for t, _ in events)

    trio.run(main)


def test_an_unsafe_name_is_listed_until_a_peer_renames_it(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        (tmp_path / "real.txt").write_text("real\n")
        await mirror.local_changes(["real.txt"])
        guid = mirror.view.guid_for_path("real.txt")
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, guid, path="a\x00b.txt"))
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        assert [p["kind"] for p in mirror.problems.listing()] == ["unsafe-path"]
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, guid, path="fine.txt"))
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        assert mirror.problems.listing() == []
        assert (tmp_path / "fine.txt").read_text() == "real\n"

    trio.run(main)
