"""A batch of manifest changes (a folder deleted, moved, or back) brings the mirror's
view up to date entry by entry: the manifest is read whole O(1) times a batch, not
once per file (``ManifestKeeper``: a folder of 1,000 deletions took 30 s). The view
is the one a whole read gives."""

from __future__ import annotations

import gc
import shutil
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pycrdt
import trio
from trio.testing import MockClock

from p2psync.mirror import engine
from p2psync.mirror.engine import Mirror
from p2psync.mirror.manifest import MANIFEST_GUID, ManifestView, read_entries, set_fields
from p2psync.mirror.store import YDoc
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica
from tests.support.mirror import Store, make_mirror, peer_creates

FILES = 200


def folder(root: Path, name: str = "big") -> list[str]:
    rels = [f"{name}/{n // 50}/file-{n}.md" for n in range(FILES)]
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"file {rel}\nline two\nline three\n")
    return rels


def as_read(mirror: Mirror, store: Store) -> ManifestView:
    manifest = store.docs[MANIFEST_GUID]
    entries, problems = read_entries(manifest.ydoc)
    assert not problems
    return ManifestView.of(entries, mirror.keeper.view.key)


async def taken_in(mirror: Mirror, root: Path) -> list[str]:
    rels = folder(root)
    await mirror.local_changes(rels)
    await mirror.flush()
    assert len(mirror.view.by_path) == FILES
    return rels


async def deleted(mirror: Mirror, root: Path, rels: list[str]) -> None:
    """Remove the folder of ``rels`` and let the mirror find it gone and, once the
    hold has passed, tell its files deleted."""
    shutil.rmtree(root / "big")
    await mirror.local_changes(rels)  # found gone: held
    await trio.sleep(engine.VANISHED_HOLD_S)
    await mirror.flush()  # told: one manifest change (and durable) per file


def test_a_deleted_folder_is_recorded_with_o1_whole_reads(tmp_path: Path) -> None:
    mirror, store, _ = make_mirror(tmp_path)

    async def main() -> None:
        rels = await taken_in(mirror, tmp_path)
        before, edits = mirror.keeper.rereads, store.changed.count(MANIFEST_GUID)
        await deleted(mirror, tmp_path, rels)
        assert store.changed.count(MANIFEST_GUID) - edits == FILES
        assert mirror.keeper.rereads - before <= 1
        assert not mirror.view.by_path
        assert all(mirror.view.deleted_at(rel) is not None for rel in rels)
        assert mirror.view == as_read(mirror, store)

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_moved_folder_is_recorded_with_o1_whole_reads(tmp_path: Path) -> None:
    mirror, store, _ = make_mirror(tmp_path)

    async def main() -> None:
        rels = await taken_in(mirror, tmp_path)
        guids = {mirror.view.by_path[rel].guid for rel in rels}
        (tmp_path / "big").rename(tmp_path / "moved")
        moved = [rel.replace("big/", "moved/", 1) for rel in rels]
        before = mirror.keeper.rereads
        await mirror.local_changes(rels + moved)
        await mirror.flush()
        assert mirror.keeper.rereads - before <= 1
        assert {mirror.view.by_path[rel].guid for rel in moved} == guids
        assert mirror.view == as_read(mirror, store)

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_deleted_folder_back_takes_its_docs_again_with_o1_whole_reads(tmp_path: Path) -> None:
    mirror, store, _ = make_mirror(tmp_path)

    async def main() -> None:
        rels = await taken_in(mirror, tmp_path)
        guids = {mirror.view.by_path[rel].guid for rel in rels}
        await deleted(mirror, tmp_path, rels)
        folder(tmp_path)  # delete-then-create: the same docs again
        before = mirror.keeper.rereads
        await mirror.local_changes(rels)
        await mirror.flush()
        assert mirror.keeper.rereads - before <= 1
        assert {mirror.view.by_path[rel].guid for rel in rels} == guids
        assert mirror.view == as_read(mirror, store)

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_peers_changes_between_edits_are_in_the_view_after_the_next(tmp_path: Path) -> None:
    """A peer's change the doc applied before the mirror was told of it: an edit here
    brings it into the view, as a whole read did."""
    mirror, store, _ = make_mirror(tmp_path)

    async def main() -> None:
        await taken_in(mirror, tmp_path)
        await peer_creates(mirror, store, "peer.md", "theirs\n", 5)
        first, second = sorted(mirror.view.by_path)[:2]
        peer: pycrdt.Doc[Any] = pycrdt.Doc(client_id=777)
        peer.apply_update(store.docs[MANIFEST_GUID].full_state())
        before = peer.get_state()
        with peer.transaction():
            set_fields(peer, mirror.view.by_path[first].guid, path="renamed-there.md")
        store.docs[MANIFEST_GUID].apply(peer.get_update(before))  # not told yet
        guid = mirror.view.by_path[second].guid
        await mirror.keeper.edit(lambda d: set_fields(d, guid, exec=True))
        assert "renamed-there.md" in mirror.view.by_path
        assert mirror.view.by_path[second].exec
        assert mirror.view == as_read(mirror, store)

    trio.run(main, clock=MockClock(autojump_threshold=0))


class UnloadingStore(Store):
    """A store whose docs may leave memory, as a share's idle docs do: an unloaded
    doc keeps its version and loads again from its state when read."""

    def __init__(self) -> None:
        super().__init__()
        self.unloaded: dict[str, tuple[bytes, DocVersion]] = {}
        self.loads: list[str] = []

    def unload(self, guid: str) -> None:
        doc = self.docs.pop(guid)
        self.unloaded[guid] = (doc.full_state(), doc.version())

    def doc(self, guid: str) -> DocReplica | None:
        if guid in self.unloaded:
            state, _ = self.unloaded.pop(guid)
            self.docs[guid] = DocReplica(guid, [state])
            self.loads.append(guid)
        return super().doc(guid)

    def version(self, guid: str) -> DocVersion | None:
        if guid in self.unloaded:
            return self.unloaded[guid][1]
        return super().version(guid)

    async def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> None:
        self.doc(guid)
        await super().local_edit(guid, edit)


def test_an_idle_manifest_leaves_memory_and_an_unchanged_one_is_not_read_again(
    tmp_path: Path,
) -> None:
    """The keeper holds the manifest doc only while it changes it, so an idle share's
    manifest can leave memory (pycrdt's observer would keep it: a cycle through
    Rust); a rescan finding it unchanged neither loads nor reads it; loaded again for
    a change, it is not read whole either, and the view stays a whole read's."""
    store = UnloadingStore()
    mirror, _, _ = make_mirror(tmp_path, store)

    async def main() -> None:
        rels = await taken_in(mirror, tmp_path)
        await mirror.rescan()  # as a daemon's start does
        manifest = weakref.ref(store.docs[MANIFEST_GUID].ydoc)
        store.unload(MANIFEST_GUID)
        gc.collect()
        assert manifest() is None  # nothing of the mirror's holds it
        rereads = mirror.keeper.rereads
        await mirror.rescan()
        assert store.loads == []
        (tmp_path / rels[0]).rename(tmp_path / "renamed.md")
        (tmp_path / "new.md").write_text("a new file\n")
        await mirror.local_changes([rels[0], "renamed.md", "new.md"])
        await trio.sleep(engine.VANISHED_HOLD_S)
        await mirror.flush()
        assert store.loads == [MANIFEST_GUID]
        assert mirror.keeper.rereads == rereads
        assert {"renamed.md", "new.md"} <= set(mirror.view.by_path)
        assert rels[0] not in mirror.view.by_path
        assert mirror.view == as_read(mirror, store)
        store.unload(MANIFEST_GUID)
        await peer_creates(mirror, store, "peer.md", "theirs\n", 5)  # changed: read whole
        assert mirror.keeper.rereads == rereads + 1
        assert mirror.view == as_read(mirror, store)

    trio.run(main, clock=MockClock(autojump_threshold=0))
