"""A holding DirWatcher against the real filesystem: files are reported once written.

The writers here pause on purpose (that is the case under test: a program that
writes a file in parts); the tests never sleep to wait for the watcher, they wait on
``next_changes`` under an absolute deadline.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio

from p2psync.watch import DirWatcher, HoldRules
from tests.support.watching import DEADLINE_S, watching

QUIET_S = 0.02  # what the mirror service asks for
PART = b"x" * (4 << 20)
HOLD = HoldRules()


class Batches:
    """What a consumer took: each batch with when, and each file's size then."""

    def __init__(self, watcher: DirWatcher) -> None:
        self.watcher = watcher
        self.taken: list[tuple[float, dict[Path, int | None]]] = []

    async def consume(self) -> None:
        while True:
            paths = await self.watcher.next_changes(min_quiet_s=QUIET_S, max_delay_s=1.0)
            at = time.monotonic()
            self.taken.append((at, {path: size_of(path) for path in paths}))

    def of(self, path: Path) -> list[tuple[float, int | None]]:
        return [(at, sizes[path]) for at, sizes in self.taken if path in sizes]

    async def wait_for(self, path: Path) -> None:
        with trio.fail_after(DEADLINE_S):
            while not self.of(path):
                await trio.sleep(0.002)


def size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


async def write_in_two_parts(path: Path, *, pause_s: float = 0.1) -> float:
    """Write ``path`` in two writes ``pause_s`` apart; returns when it was closed."""
    with path.open("wb") as file:
        file.write(PART)
        file.flush()
        await trio.sleep(pause_s)
        file.write(PART)
    return time.monotonic()


async def test_two_writes_100_ms_apart_make_one_batch_after_the_close(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    sentinel = tmp_path / "sentinel"
    async with watching(tmp_path, hold=HOLD) as watcher, trio.open_nursery() as nursery:
        batches = Batches(watcher)
        nursery.start_soon(batches.consume)
        closed_at = await write_in_two_parts(big)
        await batches.wait_for(big)
        sentinel.write_bytes(b"done")  # watchdog keeps order: all of big's events are in
        await batches.wait_for(sentinel)
        nursery.cancel_scope.cancel()
    assert [size for _, size in batches.of(big)] == [2 * len(PART)]
    assert batches.of(big)[0][0] >= closed_at


async def truncate_in_place_then_write(path: Path) -> None:
    with path.open("r+b") as file:  # truncated, still open
        file.truncate(0)
        file.flush()
        await trio.sleep(0.1)
        file.write(b"new content\n")


async def truncate_close_then_append(path: Path) -> None:
    path.open("wb").close()  # truncated and closed: written again after a pause
    await trio.sleep(0.3)
    with path.open("ab") as file:
        file.write(b"new content\n")


@pytest.mark.parametrize("rewrite", [truncate_in_place_then_write, truncate_close_then_append])
async def test_a_truncation_a_pause_and_a_write_make_one_batch(
    tmp_path: Path, rewrite: Callable[[Path], Awaitable[None]]
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_bytes(b"old content\n" * 100)
    sentinel = tmp_path / "sentinel"
    async with watching(tmp_path, hold=HOLD) as watcher, trio.open_nursery() as nursery:
        batches = Batches(watcher)
        nursery.start_soon(batches.consume)
        await rewrite(notes)
        await batches.wait_for(notes)
        sentinel.write_bytes(b"done")
        await batches.wait_for(sentinel)
        nursery.cancel_scope.cancel()
    assert [size for _, size in batches.of(notes)] == [len(b"new content\n")]


def editor_save(folder: Path) -> tuple[Path, Callable[[], object]]:
    notes = folder / "notes.md"
    return notes, lambda: notes.write_text("saved\n")  # open, write, close


def moved_in(folder: Path) -> tuple[Path, Callable[[], object]]:
    # From outside the watched folder: not a new file waiting for its close.
    elsewhere = folder.parent / "elsewhere.md"
    elsewhere.write_text("saved elsewhere\n")
    return folder / "notes.md", lambda: elsewhere.replace(folder / "notes.md")


def new_symlink(folder: Path) -> tuple[Path, Callable[[], object]]:
    # Never closed: complete as soon as a stat says it is no file.
    link = folder / "link.txt"
    return link, lambda: link.symlink_to(folder.parent / "target.txt")


@pytest.mark.parametrize("change", [editor_save, moved_in, new_symlink])
async def test_a_complete_change_is_reported_within_the_quiet_time(
    tmp_path: Path, change: Callable[[Path], tuple[Path, Callable[[], object]]]
) -> None:
    folder = tmp_path / "share"
    folder.mkdir()
    path, act = change(folder)
    async with watching(folder, hold=HOLD) as watcher, trio.open_nursery() as nursery:
        batches = Batches(watcher)
        nursery.start_soon(batches.consume)
        act()
        done_at = time.monotonic()
        await batches.wait_for(path)
        nursery.cancel_scope.cancel()
    # The quiet time plus a stat or two, far below any hold (empty_hold_s is the
    # shortest); the margin is for a loaded machine.
    assert batches.of(path)[0][0] - done_at < HOLD.empty_hold_s / 2


async def test_reading_a_file_reports_nothing(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("read me\n")
    sentinel = tmp_path / "sentinel"
    async with watching(tmp_path, hold=HOLD) as watcher, trio.open_nursery() as nursery:
        batches = Batches(watcher)
        nursery.start_soon(batches.consume)
        assert notes.read_text() == "read me\n"
        sentinel.write_bytes(b"done")
        await batches.wait_for(sentinel)
        nursery.cancel_scope.cancel()
    assert batches.of(notes) == []
    assert watcher.held() == frozenset()
