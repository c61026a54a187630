"""A doc's timeline file: round trip, refusal of damage, pruning by the policy."""

from __future__ import annotations

import errno
import lzma
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import msgpack
import pytest

from p2psync.errors import StorageError
from p2psync.storage.fileops import FileOps
from p2psync.storage.retention import DAY, RetentionPolicy
from p2psync.storage.timeline import Version
from p2psync.storage.versionindex import (
    load_timeline,
    prune,
    save_timeline,
    versions_path,
)

NOW = 1_800_000_000.0


def _timeline() -> list[Version]:
    return [
        Version(NOW - 40 * DAY, "A", "create", 1, 3, 3, 0, b"\x01\x00"),
        Version(NOW - 2 * DAY, "B", "remote change", 4, 5, 2, 0),
        Version(NOW - 2 * DAY + 60, "A", "local save", 6, 4, 0, 1),
        Version(NOW - 5, "A", "restore", 7, 3, 0, 1),
    ]


def test_a_timeline_survives_a_round_trip(tmp_path: Path) -> None:
    path = versions_path(tmp_path / "doc.log")
    assert path.name == "doc.log.versions"
    assert load_timeline(path) == []
    save_timeline(path, _timeline())
    assert load_timeline(path) == _timeline()


def test_a_rename_keeps_its_old_path_and_other_rows_keep_nine_fields(tmp_path: Path) -> None:
    path = versions_path(tmp_path / "doc.log")
    renamed = Version(NOW - 60, "B", "rename", 6, 4, 0, 0, number=5, old_path="old/name.md")
    save_timeline(path, [*_timeline(), renamed])
    assert load_timeline(path) == [*_timeline(), renamed]
    save_timeline(path, _timeline())
    older = versions_path(tmp_path / "older.log")  # as an older p2psync wrote it
    older.write_bytes(path.read_bytes())
    assert load_timeline(older) == _timeline()


def test_a_version_several_devices_made_keeps_them_all(tmp_path: Path) -> None:
    path = versions_path(tmp_path / "doc.log")
    together = [
        Version(NOW - 30, "A", "local save", 8, 4, 1, 0, number=5, others=("B", "C")),
        Version(NOW - 20, "B", "remote change", 9, 4, 1, 1, b"\x01", 6, chained=True,
                others=("A",)),
    ]  # fmt: skip
    save_timeline(path, [*_timeline(), *together])
    loaded = load_timeline(path)
    assert loaded == [*_timeline(), *together]
    assert [v.devices for v in loaded[-2:]] == [("A", "B", "C"), ("B", "A")]
    assert loaded[-1].chained


@pytest.mark.parametrize("damage", [b"P2PSVER\n", None])
def test_a_damaged_file_is_refused_not_emptied(tmp_path: Path, damage: bytes | None) -> None:
    path = tmp_path / "doc.log.versions"
    save_timeline(path, _timeline())
    data = path.read_bytes()
    path.write_bytes(damage if damage is not None else data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(StorageError, match="history file"):
        load_timeline(path)


def test_a_new_timeline_is_created_in_place_and_an_empty_one_reads_as_none(
    tmp_path: Path,
) -> None:
    """A first save makes the file with no temp file or rename; a crash can leave it
    empty (created, not written), which reads as no timeline, and the next save
    replaces it. A later save, and a large first one, replace the file atomically."""
    ops = NamingOps()
    path = versions_path(tmp_path / "doc.log")
    save_timeline(path, _timeline()[:1], ops=ops, new=True)
    assert load_timeline(path) == _timeline()[:1]
    assert ops.replaced == []
    save_timeline(path, _timeline(), ops=ops, new=True)  # there after all: replaced
    assert load_timeline(path) == _timeline()
    assert ops.replaced == [path]
    path.write_bytes(b"")
    assert load_timeline(path) == []
    save_timeline(path, _timeline()[:2], ops=ops, new=True)
    assert load_timeline(path) == _timeline()[:2]
    many = [replace(_timeline()[0], number=n, device=f"device {n:04}") for n in range(1, 300)]
    big = versions_path(tmp_path / "big.log")
    save_timeline(big, many, ops=ops, new=True)
    assert load_timeline(big) == many
    assert ops.replaced[-1] == big
    assert sorted(p.name for p in tmp_path.iterdir()) == [big.name, path.name]


def test_a_new_timeline_that_cannot_be_made_durable_is_not_left_behind(tmp_path: Path) -> None:
    class FailingOps(FileOps):
        def fsync(self, fd: int) -> None:
            raise OSError(errno.EIO, "I/O error")

    path = versions_path(tmp_path / "doc.log")
    with pytest.raises(OSError, match="I/O error"):
        save_timeline(path, _timeline(), ops=FailingOps(), new=True)
    assert list(tmp_path.iterdir()) == []


class NamingOps(FileOps):
    """Real file operations that note which files were replaced by a rename."""

    def __init__(self) -> None:
        self.replaced: list[Path] = []

    def replace(self, src: Path, dst: Path) -> None:
        self.replaced.append(dst)
        super().replace(src, dst)


def test_prune_keeps_what_the_policy_keeps() -> None:
    kept = prune(_timeline(), NOW, RetentionPolicy())
    assert [v.log_end for v in kept] == [1, 6, 7]
    assert [v.log_end for v in prune(_timeline(), NOW, RetentionPolicy(keep="none"))] == [7]


def test_a_chained_state_keeps_its_mark_and_other_rows_stay_as_they_were(tmp_path: Path) -> None:
    path = versions_path(tmp_path / "doc.log")
    chained = Version(NOW - 30, "A", "local save", 1, 4, 1, 0, b"\x78\x9c", 6, chained=True)
    save_timeline(path, [*_timeline(), chained])
    assert load_timeline(path) == [*_timeline(), chained]
    with_mark = len(path.read_bytes())
    save_timeline(path, [*_timeline(), replace(chained, chained=False)])
    assert load_timeline(path)[-1].chained is False
    # an unchained row has nine fields: the marked one three more ("", "", 1)
    assert len(path.read_bytes()) == with_mark - 3


def _body_file(path: Path, version: int, body: list[object]) -> None:
    """Write a timeline file of format ``version`` whose body is ``body``, as a p2psync
    of that format would."""
    packed = msgpack.packb(body, use_bin_type=True)
    path.write_bytes(struct.pack(">8sHII", b"P2PSVER\n", version, len(packed),
                                 zlib.crc32(packed)) + packed)  # fmt: skip


def test_states_are_stored_compressed_together_and_a_timeline_without_them_is_format_1(
    tmp_path: Path,
) -> None:
    path = versions_path(tmp_path / "doc.log")
    text = b"the same sentence, state after state. " * 40
    states = [Version(NOW - 60 + n, "A", "local save", 1, 9, 1, 0, text + bytes([n]), n + 5,
                      chained=n > 0) for n in range(20)]  # fmt: skip
    save_timeline(path, [*_timeline(), *states])
    assert load_timeline(path) == [*_timeline(), *states]
    assert path.read_bytes()[8:10] == b"\x00\x02"
    assert len(path.read_bytes()) < len(text) * 2  # twenty states, about one's bytes
    without = [replace(v, state=b"") for v in _timeline()]
    save_timeline(path, without)
    assert path.read_bytes()[8:10] == b"\x00\x01"
    assert load_timeline(path) == without


def test_an_older_files_chained_states_each_zlib_compressed_are_read(tmp_path: Path) -> None:
    path = versions_path(tmp_path / "doc.log")
    row = [NOW - 30, "A", "local save", 1, 4, 1, 0, zlib.compress(b"\x00\x00"), 6, "", "", 1]
    _body_file(path, 1, [[[NOW - 60, "A", "create", 1, 3, 3, 0, b"\x01\x00", 5], row], None])
    assert [v.state for v in load_timeline(path)] == [b"\x01\x00", b"\x00\x00"]
    assert load_timeline(path)[1].chained


@pytest.mark.parametrize(
    "states", [b"not xz", "count"], ids=["undecodable states", "one state missing"]
)
def test_states_that_do_not_match_their_rows_are_refused(
    tmp_path: Path, states: bytes | str
) -> None:
    path = versions_path(tmp_path / "doc.log")
    save_timeline(path, _timeline())
    rows = [[NOW - 60 + n, "A", "local save", 1, 4, 1, 0, True, n + 1] for n in range(2)]
    blob = lzma.compress(msgpack.packb([b"\x01\x00"])) if states == "count" else states
    _body_file(path, 2, [rows, None, blob])
    with pytest.raises(StorageError, match="does not decode"):
        load_timeline(path)
