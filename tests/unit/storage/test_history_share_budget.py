"""``[shares.history] max_bytes`` is the share's: its binary files' past versions
together, the oldest across the share going first, never a file's newest
(``storage.binarybudget``)."""

from __future__ import annotations

from pathlib import Path

from p2psync.storage.binarybudget import BinaryBudget, budget_of
from p2psync.storage.retention import RetentionPolicy
from p2psync.storage.timeline import Version
from p2psync.storage.versionindex import prune, save_timeline, versions_path

NOW = 1_800_000_000.0
KB = 1000


def _versions(start: float, count: int) -> list[Version]:
    """``count`` versions of 1 kB, two minutes apart from ``start``."""
    return [Version(start + 120 * i, "A", "local save", i + 1, KB, 0, 0, b"", i + 1)
            for i in range(count)]  # fmt: skip


def _kept(timeline: list[Version], budget: BinaryBudget, path: Path) -> list[int]:
    policy = RetentionPolicy(max_bytes=budget.max_bytes)
    return [v.number for v in prune(timeline, NOW, policy, binary=True, budget=(budget, path))]


def test_the_oldest_past_versions_across_the_share_go_first(tmp_path: Path) -> None:
    budget = BinaryBudget(3 * KB)
    one, two = tmp_path / "one.versions", tmp_path / "two.versions"
    older = _versions(NOW - 1000, 4)  # past: 1, 2, 3 at NOW-1000, -880, -760
    newer = _versions(NOW - 700, 4)  # past: 1, 2, 3 at NOW-700, -580, -460
    assert _kept(older, budget, one) == [1, 2, 3, 4]  # alone, three past versions fit
    # with the other file's three newer past versions, the first file keeps only its newest
    assert _kept(newer, budget, two) == [1, 2, 3, 4]
    assert _kept(older, budget, one) == [4]
    # per file, each would have kept all (3 kB of past versions each)
    alone = RetentionPolicy(max_bytes=3 * KB)
    assert len(prune(older, NOW, alone, binary=True)) == 4


def test_a_file_not_loaded_counts_from_its_timeline_file(tmp_path: Path) -> None:
    budget = BinaryBudget(2 * KB)
    idle, busy = tmp_path / "idle.versions", tmp_path / "busy.versions"
    save_timeline(idle, _versions(NOW - 500, 3))  # past: two at NOW-500, NOW-380
    budget.know([idle, busy])
    assert _kept(_versions(NOW - 2000, 3), budget, busy) == [3]


def test_no_cap_keeps_every_version_and_a_cap_of_zero_only_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "a.versions"
    assert _kept(_versions(NOW - 900, 5), BinaryBudget(None), path) == [1, 2, 3, 4, 5]
    assert _kept(_versions(NOW - 900, 5), BinaryBudget(0), path) == [5]


def test_one_budget_per_share_its_cap_set_by_the_opener(tmp_path: Path) -> None:
    docs = tmp_path / ".p2psync" / "docs"
    assert budget_of(docs) is budget_of(docs)
    assert budget_of(docs) is not budget_of(tmp_path / "other")
    assert budget_of(docs).capped(5).max_bytes == 5
    assert versions_path(docs / "x.ylog").name == "x.ylog.versions"
