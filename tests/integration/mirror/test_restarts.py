"""Restarts and crashes of the mirror: nothing the doc holds is turned into deletions.

A "restart" is a new ``Mirror`` over the same folder and the same (durable) docs,
without the old one's ``flush``: whatever it had not stored is gone, as after
``kill -9``. A "crash" at a given step raises out of a file operation there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pycrdt
import pytest
import trio
import trio.testing

from p2psync.mirror import binary, chunkpaths, fileio, newwrites, saves
from p2psync.mirror import engine as engine_module
from p2psync.mirror.conflicts import list_copies
from p2psync.mirror.creates import Creates
from p2psync.mirror.engine import TRUNCATION_HOLD_S, Mirror, wall_ms
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.kinds import file_digest
from p2psync.mirror.ledger import Ledger
from p2psync.mirror.manifest import MANIFEST_GUID, read_entries, set_fields
from p2psync.mirror.records import Synced
from p2psync.mirror.state import SyncTable
from p2psync.protocol.yjs import decode_state_vector
from p2psync.replica.doc import DocReplica
from tests.support.mirror import Store, make_mirror, peer_creates, peer_edit, read


class CrashError(Exception):
    """The daemon died here."""


def restart(root: Path, store: Store) -> Mirror:
    return Mirror(root, store, HybridClock(b"device", wall_ms), lambda *a, **f: None, "s")


async def restarted_past_the_hold(root: Path, store: Store) -> Mirror:
    """A restart that rescans, then looks again once a vanished file's hold is over
    (deletes told, renames paired)."""
    again = restart(root, store)
    await again.rescan()
    await trio.sleep(engine_module.VANISHED_HOLD_S)
    await again.local_changes([])
    await again.flush()
    return again


def peer_version(doc: DocReplica, data: bytes) -> bytes:
    """A peer's newer version of a binary file's doc."""
    peer: pycrdt.Doc[Any] = pycrdt.Doc(client_id=778)
    peer.apply_update(doc.full_state())
    before = peer.get_state()
    binary.put(peer, HybridClock(b"peer", lambda: wall_ms() + 60_000).tick(), data)
    return peer.get_update(before)


def assert_followed(root: Path, doc: DocReplica) -> None:
    """``d.txt``, saved as ``a\nsaved\n`` when a peer renamed it ``e.txt``, followed
    the rename with its save."""
    assert not (root / "d.txt").exists()
    assert (root / "e.txt").read_text() == "a\nsaved\n"
    assert doc.text() == "a\nsaved\n"


def append_line(doc: DocReplica, line: str) -> None:
    """Another program's append (or a peer's edit) to the doc: a line at its end."""
    doc.apply(peer_edit(doc, lambda t: t.insert(len(t), line)))


async def synced_file(root: Path, text: str) -> tuple[Mirror, Store, DocReplica]:
    mirror, store, _ = make_mirror(root)
    (root / "d.txt").write_text(text)
    await mirror.local_changes(["d.txt"])
    await mirror.flush()
    return mirror, store, store.docs[mirror.view.guid_for_path("d.txt")]


def test_a_save_made_while_down_merges_with_an_append_made_while_down(tmp_path: Path) -> None:
    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "header\n")
        # Down: another program appends T3 to the log, a user adds a line to the file.
        append_line(doc, "T3\n")
        (tmp_path / "d.txt").write_text("header\nuser\n")
        again = restart(tmp_path, store)
        await again.rescan()
        await again.flush()
        for text in (doc.text(), (tmp_path / "d.txt").read_text()):
            assert sorted(text.splitlines()) == ["T3", "header", "user"]

    trio.run(main)


def test_the_daemons_last_writes_are_not_read_as_a_save_after_a_kill(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "header\n")
        for token in ("T1\n", "T2\n"):  # the daemon writes the file each time
            append_line(doc, token)
            await mirror.remote_changed({doc.guid: None})
        assert (tmp_path / "d.txt").read_text() == "header\nT1\nT2\n"
        # kill -9: no flush. While down, T3 is appended.
        append_line(doc, "T3\n")
        again = restart(tmp_path, store)
        await again.rescan()
        assert doc.text() == "header\nT1\nT2\nT3\n"
        assert (tmp_path / "d.txt").read_text() == "header\nT1\nT2\nT3\n"

    trio.run(main)


def crash_in_write(monkeypatch: pytest.MonkeyPatch, *, before_rename: bool) -> None:
    """Make the mirror's next file write die just before (or just after) its rename."""
    real = fileio.write_file

    def write_file(*args: Any, **kwargs: Any) -> fileio.FileStat:
        if before_rename:
            prepared: Callable[[fileio.FileStat], None] = kwargs["prepared"]

            def die(stat: fileio.FileStat) -> None:
                prepared(stat)
                raise CrashError

            kwargs["prepared"] = die
            return real(*args, **kwargs)
        real(*args, **kwargs)
        raise CrashError

    for module in (saves, chunkpaths, newwrites):  # where the mirror writes files
        monkeypatch.setattr(module, "write_file", write_file)


@pytest.mark.parametrize("through_a_new_file", [False, True])
@pytest.mark.parametrize("before_rename", [True, False])
def test_a_crash_around_the_files_rename_is_recognised_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before_rename: bool, through_a_new_file: bool
) -> None:
    """A save made while down, in place or through a new file (a new inode, so
    neither the inode nor the bytes tell whether the write happened: the text does),
    adds nothing twice and deletes nothing."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "header\n")
        append_line(doc, "T1\n")
        crash_in_write(monkeypatch, before_rename=before_rename)
        with pytest.raises(CrashError):
            await mirror.remote_changed({doc.guid: None})
        monkeypatch.undo()
        written = (tmp_path / "d.txt").read_text()
        assert written == ("header\n" if before_rename else "header\nT1\n")
        # Down: T2 is appended, and an editor adds a line to the file.
        append_line(doc, "T2\n")
        saved = tmp_path / ("d.txt.tmp" if through_a_new_file else "d.txt")
        with saved.open("r+" if saved.exists() else "w") as file:
            file.write("top\n" + written)
        saved.replace(tmp_path / "d.txt")
        again = restart(tmp_path, store)
        await again.rescan()
        lines = doc.text().splitlines()
        assert sorted(lines) == ["T1", "T2", "header", "top"]
        assert (tmp_path / "d.txt").read_text() == doc.text()

    trio.run(main)


def test_a_save_cut_off_before_its_doc_update_is_stored_at_the_next_start(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "header\n")

        async def crash(guid: str, update: bytes, *, notify: bool = True) -> None:
            raise CrashError

        real = store.local_update
        store.local_update = crash  # type: ignore[method-assign]
        (tmp_path / "d.txt").write_text("header\nsaved\n")
        with pytest.raises(CrashError):
            await mirror.local_changes(["d.txt"])
        store.local_update = real  # type: ignore[method-assign]
        assert doc.text() == "header\n"
        again = restart(tmp_path, store)
        await again.rescan()
        assert doc.text() == "header\nsaved\n"
        assert (tmp_path / "d.txt").read_text() == "header\nsaved\n"

    trio.run(main)


def test_saves_with_nothing_new_in_the_doc_are_made_by_the_docs_own_client(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        mirror, _, doc = await synced_file(tmp_path, "a\n")
        for n in range(5):
            (tmp_path / "d.txt").write_text("a\n" + "x\n" * (n + 1))
            await mirror.local_changes(["d.txt"])
        assert doc.text() == "a\n" + "x\n" * 5
        # A scratch client per save would grow every state vector for good.
        assert list(decode_state_vector(doc.ydoc.get_state())) == [doc.ydoc.client_id]

    trio.run(main)


def test_a_save_that_overwrote_the_daemons_write_keeps_what_it_overwrote(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        mirror, store, events = make_mirror(tmp_path)
        (tmp_path / "d.txt").write_text("a\n")
        await mirror.local_changes(["d.txt"])
        doc = store.docs[mirror.view.guid_for_path("d.txt")]
        # A program reads "a\n"; meanwhile the daemon writes a peer's line into the file.
        append_line(doc, "P\n")
        await mirror.remote_changed({doc.guid: "bob"})
        assert (tmp_path / "d.txt").read_text() == "a\nP\n"
        # The program writes back its older copy with its own line.
        (tmp_path / "d.txt").write_text("a\nmine\n")
        await mirror.local_changes(["d.txt"])
        assert doc.text() == "a\nmine\n"
        kept = [Path(f["kept"]) for t, f in events if t == "path-conflict"]
        assert [path.read_text() for path in kept] == ["a\nP\n"]
        # A later save dropping a line is a plain edit: no copy.
        (tmp_path / "d.txt").write_text("mine\n")
        await mirror.local_changes(["d.txt"])
        assert len([t for t, _ in events if t == "path-conflict"]) == 1

    trio.run(main)


def test_a_save_made_while_a_peer_renamed_the_file_follows_the_rename(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\n")
        manifest = store.docs[MANIFEST_GUID]
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, doc.guid, path="e.txt"))
        (tmp_path / "d.txt").write_text("a\nsaved\n")  # saved before the rename arrived
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        await mirror.local_changes(["d.txt"])
        await mirror.flush()
        assert_followed(tmp_path, doc)
        entries, _ = read_entries(manifest.ydoc)
        assert [(e.path, e.deleted) for e in entries.values()] == [("e.txt", False)]

    trio.run(main)


def test_a_file_truncated_then_written_is_one_edit_not_a_delete_of_everything(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        mirror, _, doc = await synced_file(tmp_path, "a\nb\n")
        path = tmp_path / "d.txt"
        with path.open("r+") as file:
            file.truncate(0)  # the first step of a save
            file.flush()
            await mirror.local_changes(["d.txt"])
            append_line(doc, "peer\n")  # and a peer's change arrives meanwhile
            await mirror.remote_changed({doc.guid: "bob"})
            assert doc.text() == "a\nb\npeer\n"
            assert path.read_text() == ""  # not replaced under the writer
            file.write("a\nb\nmine\n")
        await mirror.local_changes(["d.txt"])
        assert sorted(doc.text().splitlines()) == ["a", "b", "mine", "peer"]
        assert path.read_text() == doc.text()

    trio.run(main)


def test_a_file_left_empty_is_read_once_it_held_still(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, _, doc = await synced_file(tmp_path, "a\nb\n")
        path = tmp_path / "d.txt"
        path.write_text("")
        await mirror.local_changes(["d.txt"])
        assert doc.text() == "a\nb\n"
        assert mirror.files_held
        old = time.time_ns() - 5 * 10**9  # as if emptied 5 s ago
        os.utime(path, ns=(old, old))
        await trio.sleep(TRUNCATION_HOLD_S)
        await mirror.flush()
        assert doc.text() == ""
        assert not mirror.files_held

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_doc_change_stored_just_before_a_kill_reaches_the_file_after_the_restart(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "a\n")
        append_line(doc, "peer\n")  # stored, and the daemon died before writing the file
        again = restart(tmp_path, store)
        assert again.synced["d.txt"].stat is not None  # the record knows the file's stat
        await again.rescan()
        assert (tmp_path / "d.txt").read_text() == "a\npeer\n"

    trio.run(main)


def test_a_file_renamed_while_the_daemon_was_down_stays_one_doc(tmp_path: Path) -> None:
    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "a\n")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        again = restart(tmp_path, store)
        await again.rescan()
        await again.flush()
        assert again.view.guid_for_path("e.txt") == doc.guid
        assert "d.txt" not in again.view.by_path

    trio.run(main)


def test_a_file_saved_by_replacing_it_then_renamed_stays_one_doc(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        # A save by writing a temp file and renaming it over (a new inode), then a
        # rename, both before the mirror hears of either.
        (tmp_path / "d.tmp").write_text("a\nb\nc\nd\nsaved\n")
        (tmp_path / "d.tmp").replace(tmp_path / "d.txt")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        await mirror.local_changes(["d.txt", "e.txt"])
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await mirror.flush()
        assert mirror.view.guid_for_path("e.txt") == doc.guid
        assert "d.txt" not in mirror.view.by_path
        assert doc.text() == "a\nb\nc\nd\nsaved\n"
        assert [g for g in store.docs if g not in (doc.guid, MANIFEST_GUID)] == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_an_unrelated_new_file_beside_a_deleted_one_is_not_a_rename(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, _, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        (tmp_path / "e.txt").write_text("w\nx\ny\nz\n")  # (first: not d.txt's inode)
        (tmp_path / "d.txt").unlink()
        await mirror.local_changes(["d.txt", "e.txt"])
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await mirror.flush()
        assert mirror.view.guid_for_path("e.txt") != doc.guid
        assert "d.txt" not in mirror.view.by_path

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_restart_reads_only_the_files_whose_doc_or_stat_changed(tmp_path: Path) -> None:
    """A file whose stat and doc version are as recorded is its doc's content: a
    start-up neither reads it nor loads its doc. One whose doc gained an append while
    the daemon was down, or that was saved then, is read."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        names = ["same.txt", "appended.txt", "saved.txt", "same.bin"]
        for name in names:
            (tmp_path / name).write_bytes(b"\xff\x00" if name.endswith(".bin") else b"a\nb\n")
        await mirror.local_changes(names)
        await mirror.flush()
        guids = {name: mirror.view.guid_for_path(name) for name in names}
        append_line(store.docs[guids["appended.txt"]], "appended while down\n")
        (tmp_path / "saved.txt").write_text("a\nb\nsaved while down\n")
        loaded: list[str] = []
        real_doc = store.doc

        def doc(guid: str) -> DocReplica | None:
            loaded.append(guid)
            return real_doc(guid)

        store.doc = doc  # type: ignore[method-assign]
        await restart(tmp_path, store).rescan()
        assert guids["same.txt"] not in loaded
        assert guids["same.bin"] not in loaded
        assert (tmp_path / "appended.txt").read_text() == "a\nb\nappended while down\n"
        assert store.docs[guids["saved.txt"]].text() == "a\nb\nsaved while down\n"

    trio.run(main)


def test_an_inode_freed_by_a_delete_and_reused_by_another_files_save_pairs_by_text(
    tmp_path: Path,
) -> None:
    """a.txt is deleted; x.txt is saved by replacing it (its temp file takes the inode
    a.txt left free) and renamed y.txt, all before the mirror hears of it: y.txt has
    a.txt's recorded inode, but x.txt's text. It is x.txt renamed, and a.txt deleted."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        (tmp_path / "a.txt").write_text("".join(f"a line {n}\n" for n in range(6)))
        x_text = "".join(f"x line {n}\n" for n in range(6))
        (tmp_path / "x.txt").write_text(x_text)
        await mirror.local_changes(["a.txt", "x.txt"])
        await mirror.flush()
        a_guid, x_guid = (mirror.view.guid_for_path(n) for n in ("a.txt", "x.txt"))
        (tmp_path / "a.txt").unlink()
        (tmp_path / "x.tmp").write_text(x_text + "saved\n")
        (tmp_path / "x.tmp").replace(tmp_path / "x.txt")
        (tmp_path / "x.txt").rename(tmp_path / "y.txt")
        reused = (tmp_path / "y.txt").stat().st_ino
        held = mirror.synced["a.txt"]
        assert held.stat is not None
        mirror.synced.put("a.txt", held._replace(stat=held.stat._replace(ino=reused)))
        await mirror.local_changes(["a.txt", "x.txt", "y.txt"])
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await mirror.flush()
        assert mirror.view.guid_for_path("y.txt") == x_guid
        assert store.docs[x_guid].text() == x_text + "saved\n"
        assert mirror.view.by_guid[a_guid].deleted

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def crash_in_record_move(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the mirror's next move of a sync record die before it is written: the
    file was renamed on disk (or the manifest names its new path), its record still
    names the old path."""

    def move(self: SyncTable, old: str, new: str, stat: fileio.FileStat | None) -> None:
        raise CrashError

    monkeypatch.setattr(SyncTable, "move", move)


async def renamed_by(who: str, mirror: Mirror, store: Store, root: Path, guid: str) -> None:
    """Rename d.txt to e.txt here (a user's ``mv``) or on a peer (its manifest edit)."""
    if who == "here":
        (root / "d.txt").rename(root / "e.txt")
        await mirror.local_changes(["d.txt", "e.txt"])
        return
    await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, guid, path="e.txt"))
    await mirror.remote_changed({MANIFEST_GUID: "bob"})


@pytest.mark.parametrize("who", ["here", "peer"])
def test_a_kill_between_a_rename_and_its_record_keeps_a_save_made_while_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\n")
        crash_in_record_move(monkeypatch)
        with pytest.raises(CrashError):
            await renamed_by(who, mirror, store, tmp_path, doc.guid)
        monkeypatch.undo()
        assert not (tmp_path / "d.txt").exists()
        # Down: another program appends T2; the user appends a line to the file.
        append_line(doc, "T2\n")
        with (tmp_path / "e.txt").open("a") as file:
            file.write("saved\n")
        again = restart(tmp_path, store)
        await again.rescan()
        await again.flush()
        assert sorted(doc.text().splitlines()) == ["T2", "a", "b", "saved"]
        assert (tmp_path / "e.txt").read_text() == doc.text()
        assert again.view.guid_for_path("e.txt") == doc.guid
        assert list_copies(tmp_path) == []

    trio.run(main)


def test_a_save_between_the_check_and_the_rename_of_a_peers_rename_is_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\n")
        real = fileio._check_expected

        def check_then_append(root: Path, rel: str, expect: Any) -> Any:
            checked = real(root, rel, expect)
            with (root / rel).open("a") as file:  # a program appends, same inode
                file.write("saved\n")
            return checked

        monkeypatch.setattr(fileio, "_check_expected", check_then_append)
        await renamed_by("peer", mirror, store, tmp_path, doc.guid)
        monkeypatch.undo()
        await mirror.flush()
        assert doc.text() == "a\nb\nsaved\n"
        assert (tmp_path / "e.txt").read_text() == doc.text()

    trio.run(main)


def test_a_reused_inode_alone_does_not_pair_unlike_files(tmp_path: Path) -> None:
    """As above, but a peer deleted x.txt meanwhile and the batch names only a.txt and
    y.txt: y.txt shares nothing with a.txt but the inode number. a.txt's doc neither
    moves nor takes y.txt's text; y.txt is x.txt renamed (its record, kept until a
    batch reads the path, holds the inode too, and the text agrees), and the rename
    here, concurrent with the peer's delete, keeps the file as one doc."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        a_text = "".join(f"a line {n}\n" for n in range(6))
        x_text = "".join(f"x line {n}\n" for n in range(6))
        (tmp_path / "a.txt").write_text(a_text)
        (tmp_path / "x.txt").write_text(x_text)
        await mirror.local_changes(["a.txt", "x.txt"])
        await mirror.flush()
        a_guid, x_guid = (mirror.view.guid_for_path(n) for n in ("a.txt", "x.txt"))
        (tmp_path / "a.txt").unlink()
        (tmp_path / "x.txt").rename(tmp_path / "y.txt")
        reused = (tmp_path / "y.txt").stat().st_ino
        held = mirror.synced["a.txt"]
        assert held.stat is not None
        mirror.synced.put("a.txt", held._replace(stat=held.stat._replace(ino=reused)))
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, x_guid, deleted=True))
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        await mirror.local_changes(["a.txt", "y.txt"])
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await mirror.flush()
        y_guid = mirror.view.guid_for_path("y.txt")
        assert y_guid == x_guid
        assert not mirror.view.by_guid[x_guid].deleted
        assert store.docs[y_guid].text() == x_text
        assert store.docs[a_guid].text() == a_text
        assert mirror.view.by_guid[a_guid].deleted
        assert [g for g in store.docs if g not in (a_guid, x_guid, MANIFEST_GUID)] == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_file_renamed_here_while_a_peer_renamed_it_stays_one_doc(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        with (tmp_path / "d.txt").open("a") as file:
            file.write("saved\n")  # saved here, not yet taken in
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, doc.guid, path="z.txt"))
        await mirror.remote_changed({MANIFEST_GUID: "bob"})  # waits for the save
        (tmp_path / "d.txt").rename(tmp_path / "y.txt")  # and renamed here meanwhile
        await mirror.local_changes(["d.txt", "y.txt"])
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await mirror.flush()
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert doc.text() == "a\nb\nc\nd\nsaved\n"
        files = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
        assert files in (["y.txt"], ["z.txt"])

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_peers_rename_taken_before_a_rename_here_stays_one_doc(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        (tmp_path / "d.txt").rename(tmp_path / "y.txt")  # renamed here, not yet taken in
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, doc.guid, path="z.txt"))
        await mirror.remote_changed({MANIFEST_GUID: "bob"})  # the peer's rename first
        await mirror.local_changes(["d.txt", "y.txt"])
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await mirror.flush()
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert not mirror.view.by_guid[doc.guid].deleted
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["y.txt"]
        assert (tmp_path / "y.txt").read_text() == doc.text() == "a\nb\nc\nd\n"

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("saved", [False, True], ids=["renamed", "saved-by-replacing-then-renamed"])
def test_a_file_renamed_while_down_as_a_peer_deleted_it_stays_one_doc(
    tmp_path: Path, saved: bool
) -> None:
    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        state = doc.state_vector()
        # Down: a peer's delete arrives; here the file is renamed (after a save).
        await store.local_edit(
            MANIFEST_GUID, lambda d: set_fields(d, doc.guid, deleted=True, deleted_at=state)
        )
        text = "a\nb\nc\nd\nsaved\n" if saved else "a\nb\nc\nd\n"
        if saved:
            (tmp_path / "d.tmp").write_text(text)
            (tmp_path / "d.tmp").replace(tmp_path / "d.txt")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        again = await restarted_past_the_hold(tmp_path, store)
        # The rename is an edit concurrent with the delete: the file stays, one doc
        # (a second doc would be a second file once a peer's edit revived the first).
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert not again.view.by_guid[doc.guid].deleted
        assert again.view.guid_for_path("e.txt") == doc.guid
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["e.txt"]
        assert doc.text() == (tmp_path / "e.txt").read_text() == text

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_file_deleted_while_down_as_a_peer_deleted_it_stays_deleted(tmp_path: Path) -> None:
    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        state = doc.state_vector()
        await store.local_edit(
            MANIFEST_GUID, lambda d: set_fields(d, doc.guid, deleted=True, deleted_at=state)
        )
        (tmp_path / "d.txt").unlink()
        again = await restarted_past_the_hold(tmp_path, store)
        assert again.view.by_guid[doc.guid].deleted
        assert again.synced.get("d.txt") is None
        assert not any(p.is_file() for p in tmp_path.iterdir())

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_file_saved_in_place_then_renamed_pairs_by_inode_and_text(tmp_path: Path) -> None:
    """Saved in place (same inode, new size and mtime), then renamed, and the batch
    names only the new path (the old one's disappearance not reported yet, as when a
    daemon starts between the two): the record still holding the inode, its path
    gone, is the rename when the text says so. The soak forked files this way: the
    new path became a second doc with the same text."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        with (tmp_path / "d.txt").open("a") as file:
            file.write("saved\n")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        await mirror.local_changes(["e.txt"])
        await mirror.flush()
        assert mirror.view.guid_for_path("e.txt") == doc.guid
        assert "d.txt" not in mirror.view.by_path
        assert doc.text() == "a\nb\nc\nd\nsaved\n"
        assert [g for g in store.docs if g not in (doc.guid, MANIFEST_GUID)] == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("edited_here", [False, True])
def test_a_file_recreated_after_a_peers_delete_was_carried_out_stays_one_doc(
    tmp_path: Path, edited_here: bool
) -> None:
    """A peer's delete reaches the file and removes it; then a program writes the
    file again (its delete-then-create save, racing the delete). The new file is
    the same doc again, and its text a save of it, merged: before, the doc took the
    file's place and the program's text was only kept aside as a conflict copy (the
    soak found the same save made a second doc at the path, a collision)."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        if edited_here:  # a save here, before the peer's delete (which covers it)
            (tmp_path / "d.txt").write_text("a\nb\nc\nd\nhere\n")
            await mirror.local_changes(["d.txt"])
            await mirror.flush()
        state = doc.state_vector()
        await store.local_edit(
            MANIFEST_GUID, lambda d: set_fields(d, doc.guid, deleted=True, deleted_at=state)
        )
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        await mirror.flush()
        assert not (tmp_path / "d.txt").exists()
        (tmp_path / "d.txt").write_text("a\nb\nc\nd\nagain\n")
        await mirror.local_changes(["d.txt"])
        await mirror.flush()
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert mirror.view.guid_for_path("d.txt") == doc.guid
        assert not mirror.view.by_guid[doc.guid].deleted
        assert (tmp_path / "d.txt").read_text() == doc.text()
        assert "again" in doc.text()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("text", [True, False])
def test_a_programs_write_raced_by_the_daemons_rename_is_taken_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: bool
) -> None:
    """A program appends to the file in the moment between the daemon's check that
    the file is as last read and its rename of the new content over it: the append
    went to the file being replaced. A text file's append is merged into the doc and
    reaches the file on the next round; any other file's bytes are kept aside."""
    written = "a\n" if text else "a\x00\n"

    async def main() -> None:
        mirror, store, events = make_mirror(tmp_path)
        (tmp_path / "d.txt").write_bytes(written.encode())
        await mirror.local_changes(["d.txt"])
        await mirror.flush()
        doc = store.docs[mirror.view.guid_for_path("d.txt")]
        check = fileio._check_expected

        def check_then_append(root: Path, rel: str, expect: Any) -> Any:
            current = check(root, rel, expect)
            with (root / rel).open("ab") as file:  # the program, between check and rename
                file.write(b"appended\n")
            monkeypatch.setattr(fileio, "_check_expected", check)
            return current

        monkeypatch.setattr(fileio, "_check_expected", check_then_append)
        if text:
            append_line(doc, "P\n")
            await mirror.remote_changed({doc.guid: "bob"})
            await mirror.local_changes([])  # the next round
            await mirror.flush()
            assert sorted(doc.text().splitlines()) == ["P", "a", "appended"]
            assert (tmp_path / "d.txt").read_text() == doc.text()
            assert [t for t, _ in events if t == "file-merged"]
        else:  # a binary file: a peer's newer version replaces it
            data = b"\x00new version\n"
            doc.apply(peer_version(doc, data))
            await mirror.remote_changed({doc.guid: "bob"})
            await mirror.flush()
            assert (tmp_path / "d.txt").read_bytes() == data
            kept = [Path(f["kept"]) for t, f in events if t == "path-conflict"]
            assert [path.read_bytes() for path in kept] == [b"a\x00\nappended\n"]

    trio.run(main)


def test_a_file_saved_as_a_peer_renamed_it_follows_the_rename_after_a_restart(
    tmp_path: Path,
) -> None:
    """The save keeps the peer's rename waiting; the daemon is killed before it is
    taken in. After the restart the file follows the rename, its save merged: the
    new path is not written from the doc beside the old file, which then could not
    move onto it (the soak found a daemon stuck like this, never converging)."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\n")
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, doc.guid, path="e.txt"))
        (tmp_path / "d.txt").write_text("a\nsaved\n")  # saved before the rename arrived
        await mirror.remote_changed({MANIFEST_GUID: "bob"})  # waits for the save
        again = restart(tmp_path, store)
        await again.remote_changed({MANIFEST_GUID: "bob"})
        await again.rescan()
        await again.flush()
        assert_followed(tmp_path, doc)

    trio.run(main)


def test_a_file_left_at_its_old_path_beside_its_written_new_path_goes_its_save_merged(
    tmp_path: Path,
) -> None:
    """The doc of a file a peer renamed is written at the new path while the file is
    still recorded at the old one, saved there: the old copy cannot move onto the
    new path. Its save is merged and the old copy removed, instead of a rename
    retried forever (the soak found a daemon stuck so, never converging)."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\n")
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, doc.guid, path="e.txt"))
        (tmp_path / "e.txt").write_text("a\n")  # the doc written at the new path
        stat = fileio.local_stat(tmp_path, "e.txt")
        assert stat is not None
        mirror.synced.put("e.txt", Synced(doc.guid, file_digest(b"a\n"), stat), doc.full_state())
        (tmp_path / "d.txt").write_text("a\nsaved\n")  # and the old copy saved
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        await mirror.local_changes(["d.txt"])
        await mirror.flush()
        assert_followed(tmp_path, doc)
        assert "d.txt" not in mirror.synced

    trio.run(main)


def test_a_programs_write_just_after_the_daemons_rename_is_a_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program appends to the file the daemon has just renamed into place, before
    the daemon recorded it: the record holds the stat of what the daemon wrote, so
    the append reads as a save and is taken in (a stat taken after the rename held
    the append, and the file then passed for synced: the CI soak lost a line so)."""

    async def main() -> None:
        mirror, _, doc = await synced_file(tmp_path, "a\n")
        rename = Path.replace

        def rename_then_append(self: Path, target: Any) -> Path:
            moved = rename(self, target)
            if Path(target).name == "d.txt":
                with Path(target).open("ab") as file:  # the program, right after
                    file.write(b"appended\n")
            return moved

        monkeypatch.setattr(Path, "replace", rename_then_append)
        append_line(doc, "P\n")
        await mirror.remote_changed({doc.guid: "bob"})
        monkeypatch.setattr(Path, "replace", rename)
        await mirror.local_changes(["d.txt"])  # the watcher saw the append
        await mirror.flush()
        assert doc.text() == "a\nP\nappended\n"
        assert (tmp_path / "d.txt").read_text() == doc.text()

    trio.run(main)


def test_a_save_stored_before_a_crash_is_not_added_again_by_a_later_save_made_while_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save is merged into the doc; the daemon dies before its record is committed;
    while it is down a program replaces the file (delete, then create) with the saved
    text plus a line. The save's write-ahead record is kept whatever the file holds,
    so the later save adds only its line (the CI soak doubled a line so)."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\n")
        append_line(doc, "T\n")  # another program's append: the save is merged
        (tmp_path / "d.txt").write_text("a\nsaved\n")

        def die(self: SyncTable, rel: str) -> None:
            raise CrashError(rel)

        monkeypatch.setattr(SyncTable, "commit", die)
        with pytest.raises(CrashError):
            await mirror.local_changes(["d.txt"])
        monkeypatch.undo()
        assert doc.text().count("saved") == 1  # stored before the crash
        (tmp_path / "d.txt").unlink()
        (tmp_path / "d.txt").write_text("a\nsaved\nmore\n")
        again = restart(tmp_path, store)
        await again.rescan()
        await again.flush()
        assert sorted(doc.text().splitlines()) == ["T", "a", "more", "saved"]
        assert (tmp_path / "d.txt").read_text() == doc.text()

    trio.run(main)


def test_a_save_cut_off_twice_by_crashes_is_stored_by_the_third_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save's record is written ahead and the daemon dies before the save reaches
    the doc; the next start keeps that record, and dies too before it has stored the
    save in the doc. The third start still stores it: the record written ahead stays
    one until its save is in the doc (the kill-storm soak lost a line so: the second
    start made it the record, and the third found the file as recorded, nothing to
    take in, and wrote the doc over it)."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\n")
        append_line(doc, "T\n")  # another program's append: the save is merged
        (tmp_path / "d.txt").write_text("a\nsaved\n")

        async def die(self: Store, guid: str, update: bytes, *, notify: bool = True) -> None:
            raise CrashError(guid)

        monkeypatch.setattr(Store, "local_update", die)
        with pytest.raises(CrashError):
            await mirror.local_changes(["d.txt"])
        with pytest.raises(CrashError):
            await restart(tmp_path, store).rescan()
        monkeypatch.undo()
        assert "saved" not in doc.text()  # neither start stored it
        again = restart(tmp_path, store)
        await again.rescan()
        await again.flush()
        assert sorted(doc.text().splitlines()) == ["T", "a", "saved"]
        assert (tmp_path / "d.txt").read_text() == doc.text()

    trio.run(main)


def test_a_file_saved_and_renamed_while_down_pairs_though_peers_grew_its_doc(
    tmp_path: Path,
) -> None:
    """Down: the file is saved in place and renamed here, while peers add many lines
    to its doc (stored before the restart takes the rename in). The new path is the
    rename by what the file shared with its doc when last synced, not with the doc
    as peers have grown it since: the soak forked such a file into two docs, the
    peers' edits reviving the old path as a second file."""

    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        with (tmp_path / "d.txt").open("a") as file:
            file.write("saved\n")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        for n in range(12):
            append_line(doc, f"peer {n}\n")
        again = await restarted_past_the_hold(tmp_path, store)
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert again.view.guid_for_path("e.txt") == doc.guid
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["e.txt"]
        text = (tmp_path / "e.txt").read_text()
        assert text == doc.text()
        assert "saved\n" in text
        assert all(f"peer {n}\n" in text for n in range(12))

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_file_that_grew_much_while_down_then_renamed_pairs_with_its_old_path(
    tmp_path: Path,
) -> None:
    """Down: the file is saved by replacing it (a new inode) with twice as many lines,
    then renamed. Its old lines are all still there, though they are fewer than half
    of its lines now: it is the old file renamed, not a second doc."""

    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        grown = "a\nb\nc\nd\n" + "".join(f"new {n}\n" for n in range(8))
        (tmp_path / "d.tmp").write_text(grown)
        (tmp_path / "d.tmp").replace(tmp_path / "d.txt")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        await restarted_past_the_hold(tmp_path, store)
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["e.txt"]
        assert doc.text() == grown

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_one_line_file_saved_in_place_and_renamed_while_down_pairs_by_its_inode(
    tmp_path: Path,
) -> None:
    """Down: a file of one line is saved in place (its inode kept) with three lines
    more, then renamed. Its inode pairs it with its old path though it shares only a
    quarter of its lines with what was synced: it kept every line it had (the kill-
    storm soak made it a second doc, its text then on two paths)."""

    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "one\n")
        with (tmp_path / "d.txt").open("a") as file:
            file.write("two\nthree\nfour\n")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        again = await restarted_past_the_hold(tmp_path, store)
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert again.view.guid_for_path("e.txt") == doc.guid
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["e.txt"]
        assert doc.text() == "one\ntwo\nthree\nfour\n"

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_two_line_file_replaced_with_more_lines_and_renamed_while_down_is_one_doc(
    tmp_path: Path,
) -> None:
    """Down: a file of two lines is saved by replacing it (a new inode) with three
    lines more, then renamed. It kept both of its lines, though they are fewer than
    half of its lines now: its rename, not a new file (the kill-storm soak made it a
    second doc, and the old path came back with the peers' edits: its text twice)."""

    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "one\ntwo\n")
        (tmp_path / "d.tmp").write_text("one\nnew 1\ntwo\nnew 2\nnew 3\n")
        (tmp_path / "d.tmp").replace(tmp_path / "d.txt")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        again = await restarted_past_the_hold(tmp_path, store)
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert again.view.guid_for_path("e.txt") == doc.guid
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["e.txt"]

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_new_file_on_a_reused_inode_is_not_the_vanished_one_it_shares_no_line_with(
    tmp_path: Path,
) -> None:
    """Down: a one-line file is deleted and another file created that takes its
    inode number (forced here by renaming a new file onto the same inode: written
    over the deleted file's bytes in place). Sharing no line with it, it is a new
    file, not the deleted one renamed."""

    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "one\n")
        with (tmp_path / "d.txt").open("r+") as file:  # same inode, other text
            file.write("xyz\nabc\n")
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        again = await restarted_past_the_hold(tmp_path, store)
        assert again.view.guid_for_path("e.txt") not in (None, doc.guid)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_file_recorded_without_its_stat_then_renamed_while_down_stays_one_doc(
    tmp_path: Path,
) -> None:
    """A record may keep no stat (one written ahead of a write a crash cut off, or a
    file written again after its deletion): renamed while the daemon was down, the
    file is still paired with its old path by its text, not taken as a new doc (the
    storm soak forked files so at restarts)."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        record = mirror.synced["d.txt"]
        mirror.synced.put("d.txt", Synced(record.guid, record.digest, None))
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        await restarted_past_the_hold(tmp_path, store)
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["e.txt"]

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("renamed_while_down", [True, False])
def test_a_peers_new_file_written_just_before_a_kill_then_renamed_stays_one_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renamed_while_down: bool
) -> None:
    """A peer's new file is written here and the daemon is killed before its record
    is committed; while down, a user renames the file. Its record written ahead is
    what pairs the new path with the doc (the storm soak forked such files: the new
    path became a second doc, the old one came back from peers). If the file is not
    renamed but simply gone, the daemon tells no delete of a file it may never have
    written: it writes it again."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        crash_in_write(monkeypatch, before_rename=False)
        with pytest.raises(CrashError):
            await peer_creates(mirror, store, "e.txt", "a\nb\nc\nd\n", wall_ms())
        monkeypatch.undo()
        guid = mirror.view.guid_for_path("e.txt")
        if renamed_while_down:
            (tmp_path / "e.txt").rename(tmp_path / "f.txt")
        else:
            (tmp_path / "e.txt").unlink()
        again = await restarted_past_the_hold(tmp_path, store)
        assert [g for g in store.docs if g != MANIFEST_GUID] == [guid]
        assert not again.view.by_guid[guid].deleted
        name = "f.txt" if renamed_while_down else "e.txt"
        assert again.view.guid_for_path(name) == guid
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [name]
        assert (tmp_path / name).read_text() == "a\nb\nc\nd\n"

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("name", ["new.txt", "app.ydoc"])
def test_a_kill_just_after_a_new_files_record_leaves_one_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A new file's doc is stored, then its sync record, and the daemon is killed at
    once. Its manifest entry must be durable by then: a record naming a doc no entry
    holds made the restarted mirror take the file in as a second doc (a storm soak
    found such files; the first doc was left holding the same text under no path).
    A text file takes the group path (``newfiles``), an app doc the one-file path."""

    def then_die(real: Callable[..., None]) -> Callable[..., None]:
        def write(*args: Any, **kwargs: Any) -> None:
            real(*args, **kwargs)
            raise CrashError

        return write

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        (tmp_path / name).write_bytes(b"a\nb\n" if name.endswith(".txt") else b"")
        for method in ("put", "write_new"):
            monkeypatch.setattr(SyncTable, method, then_die(getattr(SyncTable, method)))
        with pytest.raises(CrashError):
            await mirror.local_changes([name])
        monkeypatch.undo()
        again = restart(tmp_path, store)
        await again.rescan()
        await again.flush()
        docs = [guid for guid in store.docs if guid != MANIFEST_GUID]
        assert len(docs) == 1
        assert again.view.guid_for_path(name) == docs[0]
        assert read_entries(store.docs[MANIFEST_GUID].ydoc)[0].keys() == {docs[0]}

    trio.run(main)


@pytest.mark.parametrize(
    ("text", "edited"),
    [("a\nb\nc\nd\n", False), ("a\nb\nc\nd\n", True), ("a\n", False)],
    ids=["renamed", "renamed-and-edited", "too-short-to-pair-by-text"],
)
def test_a_write_cut_off_before_its_rename_then_the_file_renamed_while_down_stays_one_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, edited: bool
) -> None:
    """A peer's line is being written to the file when the daemon is killed, before
    the rename; while down, a user renames the file (the old one: its inode is the
    committed record's, not the write's) and may edit it. The new path pairs with the
    doc, and what the file never showed (the peer's line) is not deleted (the storm
    soak forked such a file: the new path became a second doc)."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, text)
        append_line(doc, "T1\n")
        crash_in_write(monkeypatch, before_rename=True)
        with pytest.raises(CrashError):
            await mirror.remote_changed({doc.guid: None})
        monkeypatch.undo()
        (tmp_path / "d.txt").rename(tmp_path / "y.txt")
        if edited:
            with (tmp_path / "y.txt").open("a") as file:
                file.write("saved\n")
        again = await restarted_past_the_hold(tmp_path, store)
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert again.view.guid_for_path("y.txt") == doc.guid
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["y.txt"]
        lines = ["T1", *text.splitlines()] + (["saved"] if edited else [])
        assert sorted(doc.text().splitlines()) == sorted(lines)
        assert (tmp_path / "y.txt").read_text() == doc.text()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("peer", ["deleted", "renamed"])
def test_a_file_renamed_here_as_a_peer_moved_it_away_pairs_in_a_later_batch(
    tmp_path: Path, peer: str
) -> None:
    """A user renames a file as a peer's delete (or rename) of it arrives; the
    watcher reports the old path gone in one batch and the new one in the next. The
    old path's record is held as any vanished file's, so the new file pairs with it
    (the storm soak forked such a file: its record was dropped at once, the new file
    became a second doc, and a peer's edit revived the first)."""

    async def main() -> None:
        mirror, store, doc = await synced_file(tmp_path, "a\nb\nc\nd\n")
        (tmp_path / "d.txt").rename(tmp_path / "y.txt")  # renamed here, not yet taken in
        state = doc.state_vector()
        fields: dict[str, Any] = (
            {"deleted": True, "deleted_at": state} if peer == "deleted" else {"path": "z.txt"}
        )
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, doc.guid, **fields))
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        await mirror.local_changes(["d.txt"])
        await mirror.flush()
        await trio.sleep(engine_module.VANISHED_HOLD_S / 2)
        await mirror.local_changes(["y.txt"])
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await mirror.flush()
        assert [g for g in store.docs if g != MANIFEST_GUID] == [doc.guid]
        assert not mirror.view.by_guid[doc.guid].deleted
        assert mirror.view.guid_for_path("y.txt") == doc.guid
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["y.txt"]
        assert (tmp_path / "y.txt").read_text() == doc.text() == "a\nb\nc\nd\n"

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def take_in(mirror: Mirror, rel: str, path: str) -> None:
    """A new file taken in by the group path (``newfiles``) or the one-file path."""
    if path == "group":
        await mirror.local_changes([rel])
    else:
        await mirror.reconcile(rel)


async def killed_before_the_record(
    root: Path, monkeypatch: pytest.MonkeyPatch, text: str, path: str
) -> tuple[Mirror, Store, str]:
    """``d.txt`` (``text``) taken in as a new file (``take_in``), the daemon killed
    once its doc and entry are stored and before its record is: the mirror, the
    store and the new doc's guid."""

    def die(*args: Any, **kwargs: Any) -> None:
        raise CrashError

    async def die_async(*args: Any, **kwargs: Any) -> None:
        die()

    mirror, store, _ = make_mirror(root)
    (root / "d.txt").write_text(text)
    monkeypatch.setattr(Ledger, "record_new", die_async)
    monkeypatch.setattr(Ledger, "record", die)
    with pytest.raises(CrashError):
        await take_in(mirror, "d.txt", path)
    monkeypatch.undo()
    (guid,) = [g for g in store.docs if g != MANIFEST_GUID]
    return mirror, store, guid


@pytest.mark.parametrize("path", ["group", "one-file"])
@pytest.mark.parametrize("renamed", [False, True], ids=["left", "renamed-while-down"])
def test_a_kill_between_a_new_files_entry_and_its_record_leaves_one_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, renamed: bool
) -> None:
    """A new file's doc and manifest entry are stored and the daemon is killed before
    its sync record is; while down, a user renames the file. The record written ahead
    of the entry pairs the new path with the doc (the storm soak forked such a file:
    with an entry and no record, the restart wrote the old path again from its doc,
    beside the renamed file taken in as a second doc). Plain new files take the group
    path (``newfiles``); others the one-file path (``Creates._new_doc``)."""
    text = "a\nb\nc\nd\n"

    async def main() -> None:
        mirror, store, guid = await killed_before_the_record(tmp_path, monkeypatch, text, path)
        assert mirror.view.guid_for_path("d.txt") == guid  # the entry was stored
        name = "e.txt" if renamed else "d.txt"
        if renamed:
            (tmp_path / "d.txt").rename(tmp_path / name)
        again = await restarted_past_the_hold(tmp_path, store)
        assert [g for g in store.docs if g != MANIFEST_GUID] == [guid]
        assert again.view.guid_for_path(name) == guid
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [name]
        assert (tmp_path / name).read_text() == text
        assert again.synced[name].guid == guid

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("path", ["group", "one-file"])
def test_a_new_file_saved_while_down_after_a_kill_before_its_record_is_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """A new file's doc and entry are stored and the daemon is killed before its
    record is; while down, the file is saved by replacing it (a new inode, a line
    added). The record written ahead stands for what the doc holds, so the file is a
    save merged into that doc: the kill-storm soak dropped it as a write that never
    happened, and the saved line went only to a conflict copy, the doc's text
    written over the file."""
    text = "a\nb\nc\nd\n"

    async def main() -> None:
        _, store, guid = await killed_before_the_record(tmp_path, monkeypatch, text, path)
        (tmp_path / "d.tmp").write_text(text + "saved\n")
        (tmp_path / "d.tmp").replace(tmp_path / "d.txt")
        again = await restarted_past_the_hold(tmp_path, store)
        assert again.view.guid_for_path("d.txt") == guid
        assert store.docs[guid].text() == text + "saved\n"
        assert (tmp_path / "d.txt").read_text() == text + "saved\n"
        assert list_copies(tmp_path) == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("path", ["group", "one-file"])
@pytest.mark.parametrize("renamed", [False, True], ids=["left", "renamed-while-down"])
def test_a_kill_between_a_new_files_record_written_ahead_and_its_entry_takes_it_in_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, renamed: bool
) -> None:
    """Killed after the record is written ahead and before the entry is stored: the
    record names a doc no entry holds, and the file (renamed or not) is taken in again,
    never deleted nor written twice."""
    text = "a\nb\nc\nd\n"

    async def die(*args: Any, **kwargs: Any) -> None:
        raise CrashError

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        (tmp_path / "d.txt").write_text(text)
        monkeypatch.setattr(type(mirror.keeper), "store_new", die)
        monkeypatch.setattr(Creates, "_add_entry", die)
        with pytest.raises(CrashError):
            await take_in(mirror, "d.txt", path)
        monkeypatch.undo()
        name = "e.txt" if renamed else "d.txt"
        if renamed:
            (tmp_path / "d.txt").rename(tmp_path / name)
        again = await restarted_past_the_hold(tmp_path, store)
        guid = again.view.guid_for_path(name)
        assert guid is not None
        assert [e.path for e in again.view.by_guid.values() if not e.deleted] == [name]
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [name]
        assert (tmp_path / name).read_text() == text
        assert store.docs[guid].text() == text

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_rename_made_while_down_is_taken_before_a_kill_can_cut_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Down: ``d.txt`` is renamed and another file saved. The restart's first batch
    dies merging that save; later, still before any batch completes, the renamed file
    is saved by replacing it (a new inode) with much new text. The rename was taken in
    before the save's merge, so the file is still one doc: the soak forked such a file
    when kill after kill cut every batch before its new files were reached."""

    async def main() -> None:
        _, store, doc = await synced_file(tmp_path, "a\nb\n")
        (tmp_path / "other.txt").write_text("one\n")
        first = restart(tmp_path, store)
        await first.local_changes(["other.txt"])
        (tmp_path / "d.txt").rename(tmp_path / "e.txt")
        (tmp_path / "other.txt").write_text("one\nsaved while down\n")

        def die(self: SyncTable, rel: str) -> None:
            if rel == "other.txt":
                raise CrashError(rel)

        monkeypatch.setattr(SyncTable, "commit", die)
        with pytest.raises(CrashError):
            await restart(tmp_path, store).rescan()
        monkeypatch.undo()
        (tmp_path / "e.tmp").write_text("".join(f"line {n}\n" for n in range(20)) + "a\nb\n")
        (tmp_path / "e.tmp").replace(tmp_path / "e.txt")
        again = await restarted_past_the_hold(tmp_path, store)
        assert again.view.guid_for_path("e.txt") == doc.guid
        assert "d.txt" not in again.view.by_path
        assert doc.text().startswith("line 0\n")

    trio.run(main)


@pytest.mark.parametrize("written", [False, True], ids=["cut-before-rename", "deleted-by-user"])
def test_a_peers_new_file_cut_off_by_a_kill_then_renamed_by_a_peer_keeps_the_peers_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: bool
) -> None:
    """A peer's new file is being written here when the daemon is killed: before its
    rename (the file may never have been written), or after it, and a user then
    deletes the file while the daemon is down. Meanwhile a peer renames the file and
    adds a line. The restart follows the rename with no file to move, and the record
    stays unconfirmed at the new path: no delete is told of a file that may never
    have been written, the file is written there (a storm soak lost a file's later
    edits so: the record moved without its merge base, and the delete then told with
    the doc's whole state covered every edit peers had made since the user's one)."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        crash_in_write(monkeypatch, before_rename=not written)
        with pytest.raises(CrashError):
            await peer_creates(mirror, store, "e.txt", "a\nb\nc\nd\n", wall_ms())
        monkeypatch.undo()
        guid = mirror.view.guid_for_path("e.txt")
        assert guid is not None
        doc = store.docs[guid]
        if written:
            (tmp_path / "e.txt").unlink()
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, guid, path="g.txt"))
        append_line(doc, "T1\n")
        again = await restarted_past_the_hold(tmp_path, store)
        await again.remote_changed({MANIFEST_GUID: "bob", guid: "bob"})
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await again.local_changes([])
        await again.flush()
        assert not again.view.by_guid[guid].deleted
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["g.txt"]
        assert (tmp_path / "g.txt").read_text() == doc.text() == "a\nb\nc\nd\nT1\n"

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("peer_changed", [True, False], ids=["peer-changed", "unchanged"])
def test_a_binary_file_deleted_while_down_as_a_peer_changed_it_is_kept(
    tmp_path: Path, peer_changed: bool
) -> None:
    """A user deletes a binary file while the daemon is down; a peer's newer version
    of it arrives before the restarted mirror finds the file gone. The peer's version
    is concurrent with the delete (the file never showed it): the file is kept, with
    that version, as a peer's delete of a file changed here is (its deletion would
    record the docs' state when found gone, the peer's version in it). With no such
    change the delete is told."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        (tmp_path / "d.bin").write_bytes(b"a\x00\n")
        await mirror.local_changes(["d.bin"])
        await mirror.flush()
        doc = store.docs[mirror.view.guid_for_path("d.bin")]
        (tmp_path / "d.bin").unlink()
        data = b"\x00new version\n"
        if peer_changed:
            doc.apply(peer_version(doc, data))
        again = await restarted_past_the_hold(tmp_path, store)
        await again.remote_changed({doc.guid: "bob"})
        await trio.sleep(engine_module.VANISHED_HOLD_S)
        await again.local_changes([])
        await again.flush()
        assert again.view.by_guid[doc.guid].deleted is not peer_changed
        assert read(tmp_path / "d.bin") == (data if peer_changed else None)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
