"""A doc's timeline file: round trip, refusal of damage, pruning by the policy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from p2psync.errors import StorageError
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


@pytest.mark.parametrize("damage", [b"", b"P2PSVER\n", None])
def test_a_damaged_file_is_refused_not_emptied(tmp_path: Path, damage: bytes | None) -> None:
    path = tmp_path / "doc.log.versions"
    save_timeline(path, _timeline())
    data = path.read_bytes()
    path.write_bytes(damage if damage is not None else data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(StorageError, match="history file"):
        load_timeline(path)


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
