"""The pure coalescer: which paths an event names, what is watched, when a batch is ready."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psync.watch import Change, DirtySet, HoldRules
from p2psync.watch.coalesce import NOT_A_FILE, event_changes, is_watched

D = Path("/share/docs")


def changed_paths(
    event_type: str, src_path: str | bytes, dest_path: str | bytes, *, is_directory: bool
) -> tuple[Path, ...]:
    """Just the paths that ``event_changes`` names."""
    changes = event_changes(event_type, src_path, dest_path, is_directory=is_directory)
    return tuple(path for path, _ in changes)


# -- changed_paths ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["created", "modified", "deleted"])
def test_single_path_events_name_their_file(kind: str) -> None:
    assert changed_paths(kind, str(D / "a"), "", is_directory=False) == (D / "a",)


def test_a_move_names_both_ends() -> None:
    assert changed_paths("moved", str(D / "a"), str(D / "b"), is_directory=False) == (
        D / "a",
        D / "b",
    )


def test_an_atomic_replace_names_its_target() -> None:
    paths = changed_paths("moved", str(D / ".a.tmp"), str(D / "a"), is_directory=False)
    assert D / "a" in paths


def test_a_move_with_an_unknown_end_names_the_known_one() -> None:
    assert changed_paths("moved", "", str(D / "b"), is_directory=False) == (D / "b",)
    assert changed_paths("moved", str(D / "a"), "", is_directory=False) == (D / "a",)


def test_bytes_paths_are_decoded() -> None:
    assert changed_paths("modified", bytes(D / "é"), b"", is_directory=False) == (D / "é",)


@pytest.mark.parametrize("kind", ["opened", "closed_no_write", "attrib", "nonsense"])
def test_events_that_change_no_content_name_nothing(kind: str) -> None:
    assert changed_paths(kind, str(D / "a"), "", is_directory=False) == ()


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("created", Change.WRITTEN),
        ("modified", Change.WRITTEN),
        ("closed", Change.CLOSED),
        ("deleted", Change.REPLACED),
    ],
)
def test_each_event_says_what_happened_to_its_file(kind: str, change: Change) -> None:
    assert event_changes(kind, str(D / "a"), "", is_directory=False) == ((D / "a", change),)


def test_a_move_replaces_both_ends_at_once() -> None:
    moved = event_changes("moved", str(D / ".a.tmp"), str(D / "a"), is_directory=False)
    assert moved == ((D / ".a.tmp", Change.REPLACED), (D / "a", Change.REPLACED))


@pytest.mark.parametrize("kind", ["created", "modified", "deleted", "moved"])
def test_directory_events_name_nothing(kind: str) -> None:
    assert changed_paths(kind, str(D / "sub"), str(D / "sub2"), is_directory=True) == ()


# -- is_watched ------------------------------------------------------------------


def test_non_recursive_watch_covers_direct_children_only() -> None:
    assert is_watched(D / "a", {D}, recursive=False)
    assert not is_watched(D / "sub" / "a", {D}, recursive=False)
    assert not is_watched(Path("/elsewhere/a"), {D}, recursive=False)
    assert not is_watched(D, {D}, recursive=False)


def test_recursive_watch_covers_every_descendant() -> None:
    assert is_watched(D / "a", {D}, recursive=True)
    assert is_watched(D / "sub" / "deeper" / "a", {D}, recursive=True)
    assert not is_watched(Path("/share/other/a"), {D}, recursive=True)


def test_nothing_is_watched_without_directories() -> None:
    assert not is_watched(D / "a", set(), recursive=True)


# -- DirtySet without hold ------------------------------------------------------

Q = {"min_quiet_s": 0.0, "max_delay_s": 1.0}


def written(*paths: Path) -> list[tuple[Path, Change]]:
    return [(path, Change.WRITTEN) for path in paths]


def test_a_burst_on_one_file_is_one_path() -> None:
    dirty = DirtySet()
    for i in range(1000):
        dirty.add(written(D / "log"), now_s=i * 0.001)
    assert len(dirty) == 1
    assert dirty.take_ready(1.0, **Q) == {D / "log"}
    assert len(dirty) == 0


def test_take_starts_an_empty_batch() -> None:
    dirty = DirtySet()
    dirty.add(written(D / "a", D / "b"), now_s=0.0)
    assert dirty.take_ready(0.0, **Q) == {D / "a", D / "b"}
    assert dirty.take_ready(0.0, **Q) == set()
    assert dirty.wait_s(1.0, min_quiet_s=0.0, max_delay_s=1.0) is None


def test_nothing_dirty_means_wait_for_a_change() -> None:
    dirty = DirtySet()
    dirty.add([], now_s=5.0)
    assert dirty.wait_s(5.0, min_quiet_s=0.0, max_delay_s=1.0) is None


def test_without_debounce_a_dirty_set_is_ready_at_once() -> None:
    dirty = DirtySet()
    dirty.add(written(D / "a"), now_s=3.0)
    assert dirty.wait_s(3.0, min_quiet_s=0.0, max_delay_s=2.0) == 0.0


def test_debounce_waits_for_quiet_and_every_change_restarts_it() -> None:
    dirty = DirtySet()
    dirty.add(written(D / "a"), now_s=10.0)
    assert dirty.wait_s(10.1, min_quiet_s=0.5, max_delay_s=5.0) == pytest.approx(0.4)
    dirty.add(written(D / "a"), now_s=10.3)  # the same path again is still a change
    assert dirty.wait_s(10.5, min_quiet_s=0.5, max_delay_s=5.0) == pytest.approx(0.3)
    assert dirty.take_ready(10.5, min_quiet_s=0.5, max_delay_s=5.0) == set()
    assert dirty.wait_s(10.8, min_quiet_s=0.5, max_delay_s=5.0) == 0.0


def test_debounce_is_bounded_by_the_max_delay_from_the_first_change() -> None:
    dirty = DirtySet()
    for step in range(30):  # a change every 0.1 s, never quiet for 0.5 s
        dirty.add(written(D / "a"), now_s=step * 0.1)
    assert dirty.wait_s(2.9, min_quiet_s=0.5, max_delay_s=2.0) == 0.0
    assert dirty.take_ready(2.9, min_quiet_s=0.5, max_delay_s=2.0) == {D / "a"}
    dirty.add(written(D / "a"), now_s=3.0)  # a new batch has a new first change
    assert dirty.wait_s(3.0, min_quiet_s=0.5, max_delay_s=2.0) == pytest.approx(0.5)


def test_retain_forgets_paths_no_longer_watched() -> None:
    dirty = DirtySet()
    other = Path("/share/other")
    dirty.add(written(D / "a", other / "b"), now_s=0.0)
    dirty.retain(lambda path: path.parent != D)
    assert D / "a" not in dirty
    assert dirty.take_ready(0.0, **Q) == {other / "b"}


def test_without_hold_nothing_is_held_or_stated() -> None:
    dirty = DirtySet()
    dirty.add(written(D / "a"), now_s=0.0)
    assert dirty.held() == frozenset()
    assert dirty.to_stat(0.0) == []


@given(st.lists(st.sampled_from([D / name for name in "abcdefgh"]), max_size=300))
def test_memory_is_bounded_by_distinct_paths(paths: list[Path]) -> None:
    dirty = DirtySet()
    for index, path in enumerate(paths):
        dirty.add(written(path), now_s=float(index))
    assert len(dirty) == len(set(paths)) <= 8
    assert dirty.take_ready(float(len(paths)), **Q) == set(paths)


# -- DirtySet with hold (the bridge-level tests are in test_hold.py) ---------------

HOLD = HoldRules()
SIG = (10, 1, 7)


def test_a_written_file_is_held_and_asks_for_its_stat() -> None:
    dirty = DirtySet(HOLD)
    dirty.add(written(D / "a"), now_s=0.0)
    assert dirty.held() == {D / "a"}
    assert dirty.to_stat(0.0) == [D / "a"]
    dirty.observe({D / "a": SIG}, now_s=0.0)
    assert dirty.take_ready(1.0, **Q) == set()
    assert dirty.wait_s(1.0, **Q) == pytest.approx(HOLD.open_hold_s - 1.0)


def test_a_closed_file_is_taken_once_a_second_stat_agrees() -> None:
    dirty = DirtySet(HOLD)
    dirty.add([(D / "a", Change.WRITTEN), (D / "a", Change.CLOSED)], now_s=0.0)
    dirty.observe({D / "a": SIG}, now_s=0.0)
    assert dirty.to_stat(0.01) == []  # not due before stable_s
    assert dirty.to_stat(HOLD.stable_s) == [D / "a"]
    dirty.observe({D / "a": SIG}, now_s=HOLD.stable_s)
    assert dirty.take_ready(HOLD.stable_s, **Q) == {D / "a"}
    assert dirty.held() == frozenset()


def test_a_closed_file_whose_stat_moved_waits_again() -> None:
    dirty = DirtySet(HOLD)
    dirty.add([(D / "a", Change.CLOSED)], now_s=0.0)
    dirty.observe({D / "a": SIG}, now_s=0.0)
    dirty.observe({D / "a": (20, 2, 7)}, now_s=0.02)  # grew with no event (mmap)
    assert dirty.take_ready(0.03, **Q) == set()
    assert dirty.wait_s(0.03, **Q) == pytest.approx(0.01)


def test_a_replaced_path_needs_no_stat_and_is_not_held() -> None:
    dirty = DirtySet(HOLD)
    dirty.add([(D / "a", Change.WRITTEN), (D / "a", Change.REPLACED)], now_s=0.0)
    assert dirty.to_stat(0.0) == []
    assert dirty.held() == frozenset()
    assert dirty.take_ready(0.0, **Q) == {D / "a"}


def test_hold_rules_refuse_a_zero_stable_time() -> None:
    with pytest.raises(ValueError, match="stable_s"):
        HoldRules(stable_s=0.0)


def test_a_closed_file_whose_stat_never_holds_is_taken_after_open_max() -> None:
    dirty = DirtySet(HOLD)
    dirty.add([(D / "a", Change.CLOSED)], now_s=0.0)
    now, size = 0.0, 0
    while not (taken := dirty.take_ready(now, **Q)):
        assert now < HOLD.open_max_s + 0.1
        size += 1  # written through a memory map: every stat differs
        dirty.observe({D / "a": (size, size, 7)}, now_s=now)
        now += 0.01
    assert taken == {D / "a"}
    assert now == pytest.approx(HOLD.open_max_s, abs=0.02)


def test_a_symlink_or_fifo_is_complete_once_stated() -> None:
    dirty = DirtySet(HOLD)
    dirty.add(written(D / "link"), now_s=0.0)  # a symlink's creation looks like a file's
    dirty.observe({D / "link": NOT_A_FILE}, now_s=0.0)
    assert dirty.held() == frozenset()
    assert dirty.take_ready(0.0, **Q) == {D / "link"}
