"""DirWatcher against the real filesystem and watchdog's real threads.

Never sleeps to wait: every test waits on ``next_changes`` (or polls a condition)
under an absolute deadline. Because watchdog keeps the order of events from one
watched directory, a change to a later "sentinel" file proves that every earlier
change has been handed over.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import trio
import trio.testing

from p2psync.watch import Change, DirWatcher
from p2psync.watch.bridge import _Inbox
from tests.support.watching import DEADLINE_S, watching

POLL_INTERVAL_S = 0.01


async def collect_until(
    watcher: DirWatcher, want: Path, *, min_quiet_s: float = 0.0
) -> list[set[Path]]:
    """Every batch up to and including the first that holds ``want``."""
    batches: list[set[Path]] = []
    with trio.fail_after(DEADLINE_S):
        while not any(want in batch for batch in batches):
            batches.append(await watcher.next_changes(min_quiet_s=min_quiet_s))
    return batches


def union(batches: list[set[Path]]) -> set[Path]:
    return set().union(*batches)


def append(path: Path, data: bytes = b"x") -> None:
    with path.open("ab") as f:
        f.write(data)


def watchdog_thread_count() -> int:
    """Running threads, leaving out Trio's worker-thread cache (idle workers linger 10 s
    after a ``to_thread`` call by design; they are not watchdog's)."""
    return sum(
        1
        for thread in threading.enumerate()
        if not thread.name.startswith(("Trio thread", "trio."))
    )


async def wait_for_thread_count(expected: int) -> None:
    with trio.fail_after(DEADLINE_S):
        while watchdog_thread_count() != expected:
            await trio.sleep(POLL_INTERVAL_S)


# -- what is reported ------------------------------------------------------------


async def test_an_append_is_reported(tmp_path: Path) -> None:
    log = tmp_path / "doc.log"
    log.write_bytes(b"head")
    async with watching(tmp_path) as watcher:
        append(log)
        batches = await collect_until(watcher, log)
    assert union(batches) == {log}


async def test_a_thousand_quick_appends_are_one_path_in_few_batches(tmp_path: Path) -> None:
    log = tmp_path / "doc.log"
    sentinel = tmp_path / "sentinel"
    log.write_bytes(b"")
    async with watching(tmp_path) as watcher:
        with log.open("ab", buffering=0) as f:
            for _ in range(1000):
                f.write(b"record")
        sentinel.write_bytes(b"done")
        batches = await collect_until(watcher, sentinel)
    assert union(batches) == {log, sentinel}
    assert len(batches) <= 5


async def test_an_atomic_replace_reports_the_target(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("old")
    async with watching(tmp_path) as watcher:
        temp = tmp_path / ".notes.txt.tmp"
        temp.write_text("new")
        temp.replace(target)  # os.replace: an atomic rename onto the target
        batches = await collect_until(watcher, target)
    assert target in union(batches)
    assert union(batches) <= {target, temp}


async def test_a_rename_reports_both_ends_and_a_deletion_is_reported(tmp_path: Path) -> None:
    old, new = tmp_path / "a.txt", tmp_path / "b.txt"
    old.write_text("a")
    async with watching(tmp_path) as watcher:
        old.rename(new)
        renamed = union(await collect_until(watcher, new))
        new.unlink()
        deleted = union(await collect_until(watcher, new))
    assert renamed == {old, new}
    assert deleted == {new}


async def test_subdirectories_are_watched_only_when_recursive(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    inner, top = sub / "inner.txt", tmp_path / "top.txt"
    async with watching(tmp_path) as watcher:
        inner.write_text("x")
        top.write_text("x")
        flat = union(await collect_until(watcher, top))
    async with watching(tmp_path, recursive=True) as watcher:
        inner.write_text("y")
        deep = union(await collect_until(watcher, inner))
    assert flat == {top}
    assert deep == {inner}


async def test_the_filter_excludes_paths(tmp_path: Path) -> None:
    skipped, kept = tmp_path / "x.tmp", tmp_path / "y.log"
    async with watching(tmp_path, filter=lambda path: path.suffix != ".tmp") as watcher:
        skipped.write_text("x")
        kept.write_text("y")
        batches = await collect_until(watcher, kept)
    assert union(batches) == {kept}


async def test_events_in_the_skipped_folder_are_dropped_but_a_move_out_of_it_is_kept(
    tmp_path: Path,
) -> None:
    own = tmp_path / ".own"
    own.mkdir()
    inside, moved, kept = own / "log", tmp_path / "moved.md", tmp_path / "kept.md"
    watcher = DirWatcher([tmp_path], recursive=True, skip=own)
    async with trio.open_nursery() as nursery:
        await nursery.start(watcher.run)
        inside.write_text("x")
        (own / "tmp").write_text("y")
        (own / "tmp").replace(moved)  # the daemon's temp file renamed into the share
        kept.write_text("z")
        batches = await collect_until(watcher, kept)
        batches += await collect_until(watcher, moved) if moved not in union(batches) else []
        nursery.cancel_scope.cancel()
    assert union(batches) == {moved, kept}


async def test_debounce_returns_the_batch_once_quiet(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    async with watching(tmp_path) as watcher:
        for word in ("one", "two", "three"):
            append(path, word.encode())
        batches = await collect_until(watcher, path, min_quiet_s=0.05)
    assert union(batches) == {path}


async def test_negative_debounce_is_refused(tmp_path: Path) -> None:
    watcher = DirWatcher([tmp_path])
    with pytest.raises(ValueError, match="negative"):
        await watcher.next_changes(min_quiet_s=-1.0)


# -- changing what is watched ----------------------------------------------------


async def test_a_directory_added_at_runtime_is_reported(tmp_path: Path) -> None:
    first, added = tmp_path / "first", tmp_path / "added"
    first.mkdir()
    added.mkdir()
    async with watching(first) as watcher:
        watcher.add_dir(added)
        path = added / "doc.log"
        path.write_bytes(b"x")
        batches = await collect_until(watcher, path)
        assert watcher.dirs == {first, added}
    assert union(batches) == {path}


async def test_a_directory_added_before_run_is_watched_once_started(tmp_path: Path) -> None:
    watcher = DirWatcher([])
    watcher.add_dir(tmp_path)
    path = tmp_path / "doc.log"
    async with trio.open_nursery() as nursery:
        await nursery.start(watcher.run)
        path.write_bytes(b"x")
        batches = await collect_until(watcher, path)
        nursery.cancel_scope.cancel()
    assert union(batches) == {path}


async def test_nothing_is_reported_from_a_removed_directory(tmp_path: Path) -> None:
    removed, kept = tmp_path / "removed", tmp_path / "kept"
    removed.mkdir()
    kept.mkdir()
    async with watching(removed, kept) as watcher:
        before = removed / "before.log"
        before.write_bytes(b"x")
        assert before in union(await collect_until(watcher, before))

        watcher.remove_dir(removed)
        (removed / "after.log").write_bytes(b"x")
        append(before)
        marker = kept / "marker.log"
        marker.write_bytes(b"x")
        batches = await collect_until(watcher, marker)
        assert watcher.dirs == {kept}
    assert union(batches) == {marker}


async def test_adding_a_missing_directory_raises(tmp_path: Path) -> None:
    async with watching(tmp_path) as watcher:
        with pytest.raises(FileNotFoundError):
            watcher.add_dir(tmp_path / "missing")
        assert watcher.dirs == {tmp_path}


# -- threads and cancellation ----------------------------------------------------


async def test_cancellation_stops_the_observer_threads(tmp_path: Path) -> None:
    baseline = watchdog_thread_count()
    watcher = DirWatcher([tmp_path])
    async with trio.open_nursery() as nursery:
        await nursery.start(watcher.run)
        assert watchdog_thread_count() > baseline
        path = tmp_path / "doc.log"
        path.write_bytes(b"x")
        await collect_until(watcher, path)
        nursery.cancel_scope.cancel()
    await wait_for_thread_count(baseline)


async def test_cancellation_during_startup_leaves_no_thread(tmp_path: Path) -> None:
    baseline = watchdog_thread_count()
    watcher = DirWatcher([tmp_path])
    with trio.CancelScope() as scope:
        scope.cancel()
        await watcher.run()
    await wait_for_thread_count(baseline)


async def test_a_missing_directory_fails_run_and_leaves_no_thread(tmp_path: Path) -> None:
    baseline = watchdog_thread_count()
    watcher = DirWatcher([tmp_path / "missing"])
    with pytest.raises(FileNotFoundError, match="missing"):
        await watcher.run()
    await wait_for_thread_count(baseline)


async def test_a_watcher_can_run_again_after_cancellation(tmp_path: Path) -> None:
    watcher = DirWatcher([tmp_path])
    for round_ in range(2):
        path = tmp_path / f"round{round_}.log"
        async with trio.open_nursery() as nursery:
            await nursery.start(watcher.run)
            path.write_bytes(b"x")
            await collect_until(watcher, path)
            nursery.cancel_scope.cancel()


async def test_run_twice_at_once_is_refused(tmp_path: Path) -> None:
    async with watching(tmp_path) as watcher:
        with pytest.raises(RuntimeError, match="already running"):
            await watcher.run()


# -- the thread boundary ---------------------------------------------------------


async def test_a_burst_schedules_one_wakeup_into_trio() -> None:
    wakes: list[None] = []
    woken = trio.Event()

    def wake() -> None:
        wakes.append(None)
        woken.set()

    inbox = _Inbox()
    inbox.open(trio.lowlevel.current_trio_token(), wake)
    for i in range(1000):
        inbox.put([(Path(f"/d/{i % 3}"), Change.WRITTEN)])
    inbox.put([(Path("/d/0"), Change.CLOSED)])
    with trio.fail_after(DEADLINE_S):
        await woken.wait()
    await trio.testing.wait_all_tasks_blocked()
    assert len(wakes) == 1
    assert inbox.drain() == {
        Path("/d/0"): Change.CLOSED,  # a path's latest change is what it is now
        Path("/d/1"): Change.WRITTEN,
        Path("/d/2"): Change.WRITTEN,
    }


def test_events_after_the_trio_run_finished_are_dropped_quietly() -> None:
    inbox = _Inbox()

    async def open_inbox() -> None:
        inbox.open(trio.lowlevel.current_trio_token(), lambda: None)

    trio.run(open_inbox)
    inbox.put(
        [(Path("/d/late"), Change.WRITTEN)]
    )  # run_sync_soon raises RunFinishedError: swallowed


def test_a_closed_inbox_drops_events() -> None:
    inbox = _Inbox()
    inbox.put([(Path("/d/early"), Change.WRITTEN)])
    assert inbox.drain() == {}
