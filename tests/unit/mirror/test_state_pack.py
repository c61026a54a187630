"""The sync records packed into one file by a stop in order (``SyncTable.save_pack``):
the next start reads the table from it, and never once a record changed after it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from p2psync.mirror import records, state
from p2psync.mirror.chunkbases import BASES_DIR, decode_layout, encode_layout
from p2psync.mirror.chunkfile import Piece
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.records import Synced, record_key
from p2psync.mirror.state import PACK_NAME, SyncTable
from p2psync.storage.layout import marker_dir

STAT = FileStat(10, 1, 2, 0o644)


def records_dir(root: Path) -> Path:
    return marker_dir(root) / "synced"


def table_of(table: SyncTable) -> dict[str, Synced]:
    return dict(table.items())


def filled(root: Path) -> SyncTable:
    """A table of a few records: plain ones, one without a stat, a chunked file's."""
    table = SyncTable(root)
    table.put("a.txt", Synced("ga", b"da", STAT, b"va"), b"base a")
    table.put("dir/b.bin", Synced("gb", b"db", None), b"")
    data = b"chunk text"
    chunk = Piece("gc1", len(data), len(data), hashlib.sha256(data).digest(), b"chunk base")
    table.put("big.txt", Synced("gc", b"dc", STAT), encode_layout([chunk], table.blobs))
    return table


@pytest.fixture
def read_files(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The record files a load reads one by one (none when it reads the pack)."""
    read: list[Path] = []
    original = records.read_record

    def spy(path: Path) -> object:
        read.append(path)
        return original(path)

    monkeypatch.setattr(state, "read_record", spy)
    return read


def test_a_packed_table_loads_from_its_pack_alone(tmp_path: Path, read_files: list[Path]) -> None:
    table = filled(tmp_path)
    assert table.save_pack()
    read_files.clear()
    again = SyncTable(tmp_path)
    assert again.packed
    assert read_files == []
    assert table_of(again) == table_of(table)
    assert again.path_of("gb") == "dir/b.bin"
    assert again.base("a.txt") == b"base a"  # read from its record's own file
    layout = decode_layout(again.base("big.txt"), again.blobs)  # its chunk base kept
    assert layout is not None
    assert layout[0].base == b"chunk base"
    assert len(list((marker_dir(tmp_path) / BASES_DIR).iterdir())) == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.put("a.txt", Synced("ga", b"new", STAT), b"base 2"),
        lambda t: t.put("new.txt", Synced("gn", b"dn", STAT), b""),
        lambda t: t.pop("dir/b.bin"),
        lambda t: t.move("a.txt", "moved.txt", None),
    ],
    ids=["put", "new", "pop", "move"],
)
def test_the_pack_goes_before_any_record_changes(tmp_path: Path, change: object) -> None:
    """A crash right after the change (no stop in order) starts from the files."""
    filled(tmp_path).save_pack()
    table = SyncTable(tmp_path)
    assert table.packed
    change(table)  # type: ignore[operator]
    assert not (records_dir(tmp_path) / PACK_NAME).exists()
    assert not table.packed
    crashed = SyncTable(tmp_path)
    assert not crashed.packed
    assert table_of(crashed) == table_of(table)


@pytest.mark.parametrize(
    ("write_ahead", "rel"),
    [
        (lambda t: t.prepare("a.txt", Synced("ga", b"next", STAT), b"base 3"), "a.txt"),
        (lambda t: t.write_ahead_file("n.txt", Synced("gn", b"dn", STAT), b""), "n.txt"),
        (lambda t: t.write_ahead_new([("n.txt", Synced("gn", b"dn", STAT), b"")]), "n.txt"),
    ],
    ids=["prepare", "file-write", "new-files"],
)
def test_the_pack_goes_before_a_record_is_written_ahead(
    tmp_path: Path, write_ahead: object, rel: str
) -> None:
    """A crash cuts the action off: the start settles what was written ahead from the
    files, as without a pack (no file there: a write's record is held as unconfirmed,
    a new file's kept as a save's)."""
    before = table_of(filled(tmp_path))
    SyncTable(tmp_path).save_pack()
    table = SyncTable(tmp_path)
    write_ahead(table)  # type: ignore[operator]
    assert not (records_dir(tmp_path) / PACK_NAME).exists()
    crashed = SyncTable(tmp_path)
    assert not crashed.packed
    assert set(crashed.unconfirmed) | crashed.promoted == {rel}
    assert {r: s for r, s in table_of(crashed).items() if r != rel} == {
        r: s for r, s in before.items() if r != rel
    }


def test_record_files_that_are_not_the_packed_ones_are_read(
    tmp_path: Path, read_files: list[Path]
) -> None:
    """A record file removed or added behind the table's back: the pack is not
    trusted, the files are read and the pack removed."""
    filled(tmp_path).save_pack()
    (records_dir(tmp_path) / record_key("a.txt")).unlink()
    read_files.clear()
    table = SyncTable(tmp_path)
    assert "a.txt" not in table
    assert "dir/b.bin" in table
    assert read_files
    assert not table.packed
    assert not (records_dir(tmp_path) / PACK_NAME).exists()


def test_a_record_written_ahead_beside_the_pack_is_settled_from_the_files(
    tmp_path: Path,
) -> None:
    table = filled(tmp_path)
    table.save_pack()
    ahead = state._write_ahead(
        records_dir(tmp_path), records.Record("c.txt", "gx", b"dx", None, b"", b""), ".save"
    )
    again = SyncTable(tmp_path)
    assert not again.packed
    assert "c.txt" in again  # a save's record written ahead is always kept
    assert again.promoted == {"c.txt"}
    assert ahead.exists()  # until its save is in the doc
    assert not again.save_pack()
    again.commit_promoted("c.txt")
    assert not ahead.exists()
    assert SyncTable(tmp_path).get("c.txt") == again.get("c.txt")


def test_a_damaged_pack_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    table = filled(tmp_path)
    table.save_pack()
    pack = records_dir(tmp_path) / PACK_NAME
    pack.write_bytes(pack.read_bytes()[:-5])
    again = SyncTable(tmp_path)
    assert not again.packed
    assert table_of(again) == table_of(table)
    assert "damaged sync record pack" in caplog.text


def test_nothing_is_packed_while_an_action_is_under_way(tmp_path: Path) -> None:
    table = filled(tmp_path)
    table.prepare("a.txt", Synced("ga", b"next", STAT), b"base 3")
    assert not table.save_pack()
    table.commit("a.txt")
    assert table.save_pack()
    assert not table.save_pack()  # packed already: nothing changed since


def test_a_start_that_changes_nothing_keeps_the_pack(tmp_path: Path) -> None:
    filled(tmp_path).save_pack()
    SyncTable(tmp_path)
    assert SyncTable(tmp_path).packed
