"""The sync records a crash leaves half written: which one a restart keeps.

Each test writes a record, then a write-ahead record of the daemon's next write to
the file (``prepare``) and no ``commit``, as a kill between the two leaves them; it
sets the file as the restart finds it and loads the table again.
"""

from __future__ import annotations

from pathlib import Path

import pycrdt
import pytest

from p2psync.mirror.content import content_of, text_update
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.kinds import file_digest
from p2psync.mirror.records import Synced
from p2psync.mirror.state import SyncTable

GUID = "doc"


def stat_of(path: Path) -> FileStat:
    return FileStat.of(path.stat())


def state_of(text: str) -> bytes:
    """A merge base whose text is ``text``."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=1)
    content_of(doc).insert(0, text)
    return doc.get_update()


def cut_write(root: Path, old: str, written: str, *, base: bool = True) -> Path:
    """``d.txt`` synced as ``old``, then a write of ``written`` prepared and cut off
    before its record was committed (the file still holds ``old``)."""
    path = root / "d.txt"
    path.write_text(old)
    table = SyncTable(root)
    old_base = state_of(old) if base else b""
    table.put("d.txt", Synced(GUID, file_digest(old.encode()), stat_of(path)), old_base)
    written_base = text_update(old_base, written, 2)[1] if base else b""
    written_stat = FileStat(len(written), 0, path.stat().st_ino + 1_000_000, 0o100644)
    table.prepare("d.txt", Synced(GUID, file_digest(written.encode()), written_stat), written_base)
    return path


def kept_written(root: Path, written: str) -> bool:
    """Whether a restart keeps the write-ahead record (the write happened)."""
    again = SyncTable(root)
    return again["d.txt"].digest == file_digest(written.encode())


def test_the_written_bytes_keep_the_write(tmp_path: Path) -> None:
    path = cut_write(tmp_path, "a\n", "a\nT\n")
    path.write_text("a\nT\n")
    assert kept_written(tmp_path, "a\nT\n")


def test_the_old_bytes_drop_the_write(tmp_path: Path) -> None:
    cut_write(tmp_path, "a\n", "a\nT\n")
    assert not kept_written(tmp_path, "a\nT\n")


@pytest.mark.parametrize(
    ("saved", "happened"),
    [
        ("top\na\nT\n", True),  # the write happened, then a save added a line
        ("top\na\n", False),  # a save of the file as it was before the write
        ("a\nT\nb\nc\n", True),  # a save of the written file, adding two lines
        ("", False),  # a tie: as far from both, the old record is kept
    ],
)
def test_a_save_since_is_judged_by_the_base_its_text_is_nearer(
    tmp_path: Path, saved: str, happened: bool
) -> None:
    path = cut_write(tmp_path, "a\n", "a\nT\n")
    replacement = tmp_path / "d.txt.tmp"  # saved through a new file: a new inode
    replacement.write_text(saved)
    replacement.replace(path)
    assert kept_written(tmp_path, "a\nT\n") is happened


def test_a_line_changed_by_the_write_counts_as_the_write(tmp_path: Path) -> None:
    path = cut_write(tmp_path, "one\ntwo\n", "one\ntwo!\n")
    path.write_text("zero\none\ntwo!\n")
    assert kept_written(tmp_path, "one\ntwo!\n")
    path = cut_write(tmp_path, "one\ntwo\n", "one\ntwo!\n")
    path.write_text("zero\none\ntwo\n")
    assert not kept_written(tmp_path, "one\ntwo!\n")


def test_a_file_without_a_text_base_is_judged_by_its_inode(tmp_path: Path) -> None:
    path = cut_write(tmp_path, "a\n", "a\nT\n", base=False)
    path.write_text("changed in place\n")  # same inode as when synced, not the write's
    assert not kept_written(tmp_path, "a\nT\n")


def test_new_files_records_written_ahead_in_place_then_renamed_or_written_again(
    tmp_path: Path,
) -> None:
    """A group of new files' records (``mirror.newfiles``): written ahead as
    ``.save`` files (kept at a restart whatever the file holds since), then each
    renamed onto its record; one whose ``.save`` is gone by then is written again
    whole. A torn one (a crash mid-write) reads as not written: the restart drops it."""
    records = []
    for name in ("a.txt", "b.txt", "c.txt"):
        path = tmp_path / name
        path.write_text(name)
        records.append((name, Synced(GUID + name, file_digest(name.encode()), stat_of(path)), b""))
    table = SyncTable(tmp_path)
    table.write_ahead_new(records)
    folder = tmp_path / ".p2psync" / "synced"
    ahead = sorted(p.name for p in folder.iterdir())
    assert len(ahead) == 3
    assert all(name.endswith(".save") for name in ahead)
    (folder / ahead[1]).unlink()
    table.write_new(records)
    assert not [p for p in folder.iterdir() if p.name.endswith(".save")]
    again = SyncTable(tmp_path)
    assert {rel: again[rel] for rel, _, _ in records} == {rel: s for rel, s, _ in records}
    torn = tmp_path / "d.txt"
    torn.write_text("d")
    table.write_ahead_new([("d.txt", Synced(GUID, file_digest(b"d"), stat_of(torn)), b"")])
    (ahead_d,) = [p for p in folder.iterdir() if p.name.endswith(".save")]
    ahead_d.write_bytes(ahead_d.read_bytes()[:-3])
    again = SyncTable(tmp_path)
    assert "d.txt" not in again
    assert not [p for p in folder.iterdir() if p.name.endswith(".save")]


@pytest.mark.parametrize("synced_before", [True, False], ids=["synced-before", "new-here"])
def test_an_unconfirmed_record_moves_as_one_and_stays_unconfirmed(
    tmp_path: Path, synced_before: bool
) -> None:
    """A write cut off whose file is gone at load is unconfirmed; a peer's rename of
    the file moves its record before (with its merge base) and its record written
    ahead to the new path, still unconfirmed, in memory and after another restart."""
    if synced_before:
        cut_write(tmp_path, "a\nb\n", "a\nb\nc\n")
    else:
        table = SyncTable(tmp_path)
        written_stat = FileStat(4, 0, 1_000_000, 0o100644)
        table.prepare("d.txt", Synced(GUID, file_digest(b"a\nb\n"), written_stat), state_of("a\n"))
    (tmp_path / "d.txt").unlink(missing_ok=True)
    table = SyncTable(tmp_path)
    assert set(table.unconfirmed) == {"d.txt"}
    ahead, before = table["d.txt"], table.unconfirmed["d.txt"].before
    old_base = table.base("d.txt")
    table.move("d.txt", "e.txt", None)
    for view in (table, SyncTable(tmp_path)):
        assert set(view.unconfirmed) == {"e.txt"}
        assert "d.txt" not in view
        assert view["e.txt"] == ahead
        assert view.unconfirmed["e.txt"].before == before
        assert view.base("e.txt") == old_base
    folder = tmp_path / ".p2psync" / "synced"
    assert len([p for p in folder.iterdir() if p.name.endswith(".next")]) == 1
    table.pop("e.txt")
    assert not table.unconfirmed
    assert not [p for p in folder.iterdir() if p.name.endswith(".next")]
