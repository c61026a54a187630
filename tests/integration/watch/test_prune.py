"""A recursive DirWatcher leaves its ``skip`` folder unwatched (p2psync.watch.prune).

Black-box where it can be: which folders have an inotify watch is read from the
kernel (``/proc/self/fdinfo`` of the watcher's inotify descriptor), and what is
reported from ``next_changes``. Never sleeps to wait: the tests poll a condition or
wait on ``next_changes`` under a deadline. The inotify queue keeps the order of
events across the folders of one descriptor, so once a folder made last is watched
(or a file written last is reported), everything made before it was processed.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import trio

from p2psync.watch import DirWatcher, HoldRules
from p2psync.watch import prune as prune_module
from tests.support.watching import DEADLINE_S, watching

POLL_INTERVAL_S = 0.01
WATCH_LINE = re.compile(r"^inotify wd:\S+ ino:([0-9a-f]+) ", re.MULTILINE)

# Nothing is ever taken as complete without its close-after-write or a rename: a
# file the watcher mistook for one still being written would not be reported
# within the test's deadline.
HOLD = HoldRules(open_hold_s=60.0, open_max_s=60.0)


def inotify_watches(folder: Path) -> set[int]:
    """The inodes watched by this process's inotify descriptor that watches ``folder``
    (empty if none does)."""
    wanted = folder.stat().st_ino
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if str(fd.readlink()) != "anon_inode:inotify":
                continue
            info = (Path("/proc/self/fdinfo") / fd.name).read_text()
        except OSError:  # closed meanwhile (the listing's own descriptor, another test's)
            continue
        inodes = {int(ino, 16) for ino in WATCH_LINE.findall(info)}
        if wanted in inodes:
            return inodes
    return set()


def inodes(*folders: Path) -> set[int]:
    return {folder.stat().st_ino for folder in folders}


async def wait_until_watched(root: Path, folder: Path) -> set[int]:
    with trio.fail_after(DEADLINE_S):
        while folder.stat().st_ino not in (watched := inotify_watches(root)):
            await trio.sleep(POLL_INTERVAL_S)
    return watched


@pytest.fixture(params=["pruned", "fallback"])
def pruning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both ways of skipping a folder: unwatched (pruned), or watched with its events
    dropped in the handler (where watchdog's internals are not the expected ones)."""
    if request.param == "fallback":
        monkeypatch.setattr(prune_module, "_internals_ok", lambda: False)
    return bool(request.param == "pruned")


# -- which folders are watched ---------------------------------------------------------


async def test_the_skipped_folder_and_its_subfolders_get_no_watch(tmp_path: Path) -> None:
    own, sub = tmp_path / ".own", tmp_path / "a" / "b"
    for folder in (own / "tmp", own / "docs" / "deep", sub):
        folder.mkdir(parents=True)
    async with watching(tmp_path, recursive=True, hold=HOLD, skip=own):
        watched = inotify_watches(tmp_path)
        assert inodes(tmp_path, tmp_path / "a", sub) <= watched
        assert not inodes(own, own / "tmp", own / "docs", own / "docs" / "deep") & watched

        (own / "later" / "deeper").mkdir(parents=True)  # after start, in the skipped folder
        (own / "docs" / "more").mkdir()
        (sub / "new").mkdir()  # after start, in the tree: watched
        watched = await wait_until_watched(tmp_path, sub / "new")
        made_later = inodes(own / "later", own / "later" / "deeper", own / "docs" / "more")
        assert not made_later & watched


async def test_a_skipped_folder_made_after_start_gets_no_watch(tmp_path: Path) -> None:
    own = tmp_path / ".own"
    async with watching(tmp_path, recursive=True, hold=HOLD, skip=own):
        (own / "docs").mkdir(parents=True)
        (own / "docs" / "history").mkdir()
        (tmp_path / "later").mkdir()
        watched = await wait_until_watched(tmp_path, tmp_path / "later")
        assert not inodes(own, own / "docs", own / "docs" / "history") & watched


async def test_without_the_expected_internals_the_skipped_folder_is_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prune_module, "_internals_ok", lambda: False)
    own = tmp_path / ".own"
    own.mkdir()
    async with watching(tmp_path, recursive=True, hold=HOLD, skip=own):
        assert inodes(tmp_path, own) <= inotify_watches(tmp_path)


def test_the_pinned_watchdog_has_the_internals_pruning_relies_on() -> None:
    prune_module._internals_ok.cache_clear()
    assert prune_module._internals_ok()


def test_other_internals_are_refused_and_said_once_at_debug(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from watchdog.observers.inotify import InotifyEmitter  # noqa: PLC0415

    def on_thread_start(self: InotifyEmitter) -> None:  # not what watchdog 7.1 does
        self._inotify = None

    monkeypatch.setattr(InotifyEmitter, "on_thread_start", on_thread_start)
    prune_module._internals_ok.cache_clear()
    try:
        with caplog.at_level(logging.DEBUG, logger=prune_module.__name__):
            assert not prune_module._internals_ok()
            assert not prune_module._internals_ok()
    finally:
        prune_module._internals_ok.cache_clear()
    said = [r for r in caplog.records if "InotifyEmitter.on_thread_start" in r.getMessage()]
    assert len(said) == 1
    assert said[0].levelno == logging.DEBUG


# -- what is reported ------------------------------------------------------------------


async def collect_until(watcher: DirWatcher, want: Path) -> list[set[Path]]:
    batches: list[set[Path]] = []
    with trio.fail_after(DEADLINE_S):
        while not any(want in batch for batch in batches):
            batches.append(await watcher.next_changes(min_quiet_s=0.02))
    return batches


async def test_the_skipped_folders_writes_are_not_reported_and_a_move_out_is_complete(
    tmp_path: Path, pruning: bool
) -> None:
    own = tmp_path / ".own"
    for folder in (own / "tmp", own / "synced", own / "docs"):
        folder.mkdir(parents=True)
    (own / "synced" / "rec").write_text("old record")
    moved, sentinel = tmp_path / "a.md", tmp_path / "sentinel"
    async with watching(tmp_path, recursive=True, hold=HOLD, skip=own) as watcher:
        assert (own.stat().st_ino in inotify_watches(tmp_path)) is not pruning
        # What the daemon does in its folder: logs, records replaced, temp files.
        (own / "docs" / "doc.log").write_text("appended")
        (own / "synced" / "rec.next").write_text("new record")
        (own / "synced" / "rec.next").replace(own / "synced" / "rec")
        (own / "docs" / "made").mkdir()
        (own / "docs" / "made" / "timeline").write_text("t")
        # ...and a file it wrote there, renamed into the share: complete at once.
        (own / "tmp" / "w-1").write_text("synced text")
        (own / "tmp" / "w-1").replace(moved)
        batches = await collect_until(watcher, moved)
        sentinel.write_text("done")
        batches += await collect_until(watcher, sentinel)
    assert set().union(*batches) == {moved, sentinel}
    assert sum(moved in batch for batch in batches) == 1


async def test_a_file_moved_into_the_skipped_folder_is_reported_gone(
    tmp_path: Path, pruning: bool
) -> None:
    own = tmp_path / ".own"
    own.mkdir()
    gone = tmp_path / "gone.md"
    gone.write_text("x")
    async with watching(tmp_path, recursive=True, hold=HOLD, skip=own) as watcher:
        gone.replace(own / "gone.md")
        batches = await collect_until(watcher, gone)
    assert set().union(*batches) == {gone}


async def test_the_tree_around_the_skipped_folder_is_reported_as_usual(
    tmp_path: Path, pruning: bool
) -> None:
    own, sub = tmp_path / ".own", tmp_path / "sub"
    own.mkdir()
    sub.mkdir()
    saved, renamed = sub / "saved.md", sub / "renamed.md"
    saved.write_text("old")
    async with watching(tmp_path, recursive=True, hold=HOLD, skip=own) as watcher:
        (tmp_path / "new").mkdir()  # a folder made after start is watched
        # (A file written before its watch is in place is reported as created, never
        # closed: HOLD would hold it past the deadline.)
        await wait_until_watched(tmp_path, tmp_path / "new")
        created = tmp_path / "new" / "created.md"
        created.write_text("new")
        got = set().union(*await collect_until(watcher, created))
        saved.write_text("saved")
        got |= set().union(*await collect_until(watcher, saved))
        saved.rename(renamed)
        got |= set().union(*await collect_until(watcher, renamed))
        created.unlink()
        deleted = set().union(*await collect_until(watcher, created))
    assert got == {created, saved, renamed}
    assert deleted == {created}
