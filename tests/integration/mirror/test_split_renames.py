"""Renames whose two ends reach the mirror engine apart, as they can under load.

The watcher reports ``os.rename`` as one move (both names in one batch), but a rename
made while a batch is running, a move watchdog could not pair within its 0.5 s, or a
rescan listing the folder mid-rename bring the old name's absence and the new name to
the engine in different batches, in either order. Each stays a rename of the same doc;
a real delete is told once ``VANISHED_HOLD_S`` has passed (trio's clock is virtual
here, so no test waits).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from p2psync.mirror.engine import VANISHED_HOLD_S, Mirror
from p2psync.mirror.manifest import MANIFEST_GUID, read_entries
from tests.support.mirror import Store, make_mirror, peer_edit


def entries(store: Store) -> dict[str, tuple[str, bool]]:
    """Manifest entries: guid -> (path, deleted)."""
    found, _ = read_entries(store.docs[MANIFEST_GUID].ydoc)
    return {e.guid: (e.path, e.deleted) for e in found.values()}


def run(main: Callable[[MockClock], Awaitable[None]]) -> None:
    clock = MockClock()
    trio.run(main, clock, clock=clock)


async def one_file(root: Path, rel: str, text: str) -> tuple[Mirror, Store, str]:
    """A mirror of ``root`` that has taken in the file ``rel``; returns its doc's guid."""
    mirror, store, _ = make_mirror(root)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)
    await mirror.local_changes([rel])
    await mirror.flush()
    [guid] = entries(store)
    return mirror, store, guid


RESCAN = None
"""A step of ``SPLITS``: a full rescan (periodic, or at start-up)."""

SPLITS: dict[str, list[list[str] | None]] = {
    "one move event": [["notes.md", "Notes.md"]],
    "old name gone first, new name next": [["notes.md"], ["Notes.md"]],
    "new name first, old name gone next": [["Notes.md"], ["notes.md"]],
    "a rescan between": [["notes.md"], RESCAN, ["Notes.md", "notes.md"]],
    "a rescan sees the new name": [["notes.md"], RESCAN],
}


@pytest.mark.parametrize("steps", list(SPLITS.values()), ids=list(SPLITS))
def test_a_rename_stays_a_rename_of_the_same_doc_however_it_is_batched(
    tmp_path: Path, steps: list[list[str] | None]
) -> None:
    async def main(clock: MockClock) -> None:
        mirror, store, guid = await one_file(tmp_path, "notes.md", "notes\n")
        (tmp_path / "notes.md").rename(tmp_path / "Notes.md")
        for batch in steps:
            await (mirror.rescan() if batch is RESCAN else mirror.local_changes(batch))
            await mirror.flush()
        assert entries(store) == {guid: ("Notes.md", False)}
        clock.jump(VANISHED_HOLD_S)
        await mirror.flush()
        await mirror.rescan()
        assert entries(store) == {guid: ("Notes.md", False)}
        assert store.docs[guid].text() == "notes\n"
        assert sorted(mirror.synced) == ["Notes.md"]
        assert not mirror.files_held

    run(main)


def test_a_rename_into_another_folder_split_across_batches(tmp_path: Path) -> None:
    async def main(clock: MockClock) -> None:
        mirror, store, guid = await one_file(tmp_path, "a/x.md", "x\n")
        (tmp_path / "b").mkdir()
        (tmp_path / "a" / "x.md").rename(tmp_path / "b" / "x.md")
        await mirror.local_changes(["a/x.md"])
        await mirror.flush()
        clock.jump(VANISHED_HOLD_S / 2)
        await mirror.flush()
        await mirror.local_changes(["b/x.md"])
        clock.jump(VANISHED_HOLD_S)
        await mirror.flush()
        assert entries(store) == {guid: ("b/x.md", False)}

    run(main)


def test_a_real_delete_is_told_once_the_hold_has_passed(tmp_path: Path) -> None:
    async def main(clock: MockClock) -> None:
        mirror, store, guid = await one_file(tmp_path, "gone.md", "gone\n")
        (tmp_path / "gone.md").unlink()
        await mirror.local_changes(["gone.md"])
        await mirror.flush()
        assert entries(store) == {guid: ("gone.md", False)}
        assert mirror.files_held
        clock.jump(VANISHED_HOLD_S * 0.9)
        await mirror.local_changes(["gone.md"])  # seen again: the first time counts
        await mirror.flush()
        assert entries(store) == {guid: ("gone.md", False)}
        clock.jump(VANISHED_HOLD_S * 0.1)
        await mirror.flush()  # the end of any batch, even one with nothing else
        assert entries(store) == {guid: ("gone.md", True)}
        assert "gone.md" not in mirror.synced
        assert not mirror.files_held

    run(main)


def test_a_batch_slower_than_the_hold_tells_no_delete_the_next_batch_may_pair(
    tmp_path: Path,
) -> None:
    """A first rescan under load took longer than the hold: it found the file gone,
    and the rename's other end waited for the next batch. The flush ending the slow
    batch tells no delete (the batch began before the hold ran out); the next batch
    pairs the rename; a file really gone is told deleted by the batch after."""

    async def main(clock: MockClock) -> None:
        mirror, store, guid = await one_file(tmp_path, "notes.md", "one\ntwo\nthree\n")
        (tmp_path / "gone.md").write_text("gone\n")
        await mirror.local_changes(["gone.md"])
        await mirror.flush()
        gone = next(g for g in entries(store) if g != guid)
        started = trio.current_time()
        (tmp_path / "notes.md").rename(tmp_path / "renamed.md")
        (tmp_path / "gone.md").unlink()
        await mirror.local_changes(["notes.md", "gone.md"])  # the new name not yet
        clock.jump(VANISHED_HOLD_S * 3)  # the rest of a slow batch
        await mirror.flush(started)
        assert entries(store) == {guid: ("notes.md", False), gone: ("gone.md", False)}
        await mirror.local_changes(["renamed.md"])
        await mirror.flush(trio.current_time())
        assert entries(store) == {guid: ("renamed.md", False), gone: ("gone.md", True)}
        assert store.docs[guid].text() == "one\ntwo\nthree\n"
        assert sorted(mirror.synced) == ["renamed.md"]

    run(main)


def test_a_file_back_from_a_vanish_is_held_anew_when_it_vanishes_again(tmp_path: Path) -> None:
    """A save that replaced the file (gone for a moment, then back) held it; renamed
    after that hold ran out, it is held again, so the rename's new name, reported in a
    later batch, still pairs with it."""

    async def main(clock: MockClock) -> None:
        mirror, store, guid = await one_file(tmp_path, "a.md", "one\ntwo\nthree\n")
        path = tmp_path / "a.md"
        path.unlink()
        await mirror.local_changes(["a.md"])
        path.write_text("one\ntwo\nthree\nfour\n")
        await mirror.local_changes(["a.md"])
        clock.jump(VANISHED_HOLD_S * 2)
        path.rename(tmp_path / "b.md")
        await mirror.local_changes(["a.md"])
        await mirror.flush(trio.current_time())
        assert entries(store) == {guid: ("a.md", False)}
        await mirror.local_changes(["b.md"])
        await mirror.flush(trio.current_time())
        assert entries(store) == {guid: ("b.md", False)}
        assert store.docs[guid].text() == "one\ntwo\nthree\nfour\n"

    run(main)


def test_a_file_deleted_and_created_again_within_the_hold_is_a_save(tmp_path: Path) -> None:
    async def main(clock: MockClock) -> None:
        mirror, store, guid = await one_file(tmp_path, "a.md", "one\n")
        path = tmp_path / "a.md"
        path.unlink()
        await mirror.local_changes(["a.md"])
        path.write_text("two\n")
        await mirror.local_changes(["a.md"])
        clock.jump(VANISHED_HOLD_S)
        await mirror.flush()
        assert entries(store) == {guid: ("a.md", False)}
        assert store.docs[guid].text() == "two\n"
        assert not mirror.files_held

    run(main)


def test_a_new_file_with_a_vanished_files_inode_but_other_bytes_is_new(tmp_path: Path) -> None:
    """In a later batch than the vanishing, an inode number alone is not a rename
    (ext4 reuses freed ones at once): the size and mtime must be the old file's."""

    async def main(clock: MockClock) -> None:
        mirror, store, old = await one_file(tmp_path, "old.md", "old\n")
        (tmp_path / "old.md").rename(tmp_path / "new.md")
        (tmp_path / "new.md").write_text("other, longer text\n")
        was = mirror.synced["old.md"].stat
        assert was is not None
        assert (tmp_path / "new.md").stat().st_ino == was.ino
        await mirror.local_changes(["old.md"])
        await mirror.local_changes(["new.md"])
        clock.jump(VANISHED_HOLD_S)
        await mirror.flush()
        [new] = [guid for guid in entries(store) if guid != old]
        assert entries(store) == {old: ("old.md", True), new: ("new.md", False)}
        assert store.docs[new].text() == "other, longer text\n"

    run(main)


def test_a_peers_edit_arriving_while_a_delete_is_held_keeps_the_file(tmp_path: Path) -> None:
    """The delete covers what the doc held when the file was found gone: an edit that
    arrives during the hold is concurrent with it, as it would have been had the delete
    been told at once (docs/mirror.md: an edit concurrent with a delete keeps the file)."""

    async def main(clock: MockClock) -> None:
        mirror, store, guid = await one_file(tmp_path, "plan.md", "plan\n")
        (tmp_path / "plan.md").unlink()
        await mirror.local_changes(["plan.md"])
        doc = store.docs[guid]
        doc.apply(peer_edit(doc, lambda t: t.insert(len(t), "still needed\n")))
        await mirror.remote_changed({guid: "bob"})
        clock.jump(VANISHED_HOLD_S)
        await mirror.flush()
        assert entries(store) == {guid: ("plan.md", True)}
        await mirror.refresh_manifest()  # what the delete's echo from any peer brings
        assert entries(store) == {guid: ("plan.md", False)}
        assert (tmp_path / "plan.md").read_text() == "plan\nstill needed\n"

    run(main)


def test_renames_are_found_when_vanished_records_name_one_inode(tmp_path: Path) -> None:
    """Records keep the inode a file had when synced; ext4 reuses freed numbers, so
    the records of several files gone in one batch (renamed and saved while the
    daemon was down, a delete-and-create save each) can name the same one. That
    inode pairs none of them, and each is still found by its text."""

    async def main(clock: MockClock) -> None:
        mirror, store, _ = make_mirror(tmp_path)
        texts = {rel: "".join(f"{rel} line {i}\n" for i in range(6)) for rel in ("a.md", "c.md")}
        for rel, text in texts.items():
            (tmp_path / rel).write_text(text)
        await mirror.local_changes(list(texts))
        await mirror.flush()
        guids = {path: guid for guid, (path, _) in entries(store).items()}
        stale = mirror.synced["a.md"].stat
        assert stale is not None
        for rel in texts:  # both records name one inode number, as after its reuse
            held = mirror.synced[rel]
            assert held.stat is not None
            mirror.synced.put(rel, held._replace(stat=held.stat._replace(ino=stale.ino)))
        renamed = {"a.md": "z.md", "c.md": "y.md"}
        for old, new in renamed.items():
            (tmp_path / new).write_text(texts[old] + "saved while renamed\n")
        for old in renamed:  # after: no new file takes the inode number they name
            (tmp_path / old).unlink()
        await mirror.local_changes([*renamed, *renamed.values()])
        clock.jump(VANISHED_HOLD_S)
        await mirror.flush()
        assert entries(store) == {guids[old]: (new, False) for old, new in renamed.items()}
        for old in renamed:
            assert store.docs[guids[old]].text() == texts[old] + "saved while renamed\n"

    run(main)


def test_a_record_whose_doc_has_no_entry_pairs_no_rename(tmp_path: Path) -> None:
    """A kill can leave a sync record naming a doc whose manifest entry was never
    stored: a file renamed from that path is a new file, not a rename of no entry."""

    async def main(clock: MockClock) -> None:
        mirror, store, old = await one_file(tmp_path, "a.md", "a\nb\nc\n")
        held = mirror.synced["a.md"]
        mirror.synced.put("a.md", held._replace(guid="f:" + "0" * 32))
        (tmp_path / "a.md").rename(tmp_path / "b.md")
        await mirror.local_changes(["a.md", "b.md"])
        clock.jump(VANISHED_HOLD_S)
        await mirror.flush()
        [new] = [guid for guid in entries(store) if guid != old]
        assert entries(store)[new] == ("b.md", False)
        assert store.docs[new].text() == "a\nb\nc\n"

    run(main)
