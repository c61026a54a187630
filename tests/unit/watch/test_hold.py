"""DirWatcher's hold on files being written, with fake events and a virtual clock.

No watchdog thread runs: events go straight into the watcher's inbox, as watchdog's
handler would put them, and a fake folder answers the stats. The clock is Trio's
autojump clock, so a writer's pauses cost no real time and the tests never sleep to
wait: every wait is bounded by a (virtual) deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio
import trio.testing

from p2psync.watch import Change, DirWatcher, HoldRules
from p2psync.watch.coalesce import Signature

D = Path("/share")
QUIET_S = 0.02  # what the mirror service asks for
DEADLINE_S = 60.0
HOLD = HoldRules()


class FakeFolder:
    """The files the watcher stats, and the events it would see, under a virtual clock."""

    def __init__(self, watcher: DirWatcher) -> None:
        self.watcher = watcher
        self.sizes: dict[Path, int] = {}
        self.mtimes: dict[Path, int] = {}
        self.stats = 0
        watcher._stat_files = self._stat
        watcher._inbox.open(trio.lowlevel.current_trio_token(), watcher._wake)

    async def _stat(self, paths: list[Path]) -> dict[Path, Signature]:
        await trio.lowlevel.checkpoint()
        self.stats += len(paths)
        return {path: self.signature(path) for path in paths}

    def signature(self, path: Path) -> Signature:
        if path not in self.sizes:
            return None
        return (self.sizes[path], self.mtimes[path], 1)

    def write(self, path: Path, size: int, *, closed: bool = False) -> None:
        """A write that leaves the file ``size`` bytes long (and closes it if asked)."""
        self.sizes[path] = size
        self.mtimes[path] = int(trio.current_time() * 1e9) + 1
        self.watcher._inbox.put([(path, Change.WRITTEN)])
        if closed:
            self.close(path)

    def close(self, path: Path) -> None:
        self.watcher._inbox.put([(path, Change.CLOSED)])

    def replace(self, path: Path, size: int) -> None:
        """An atomic save: a rename onto ``path``."""
        self.sizes[path] = size
        self.mtimes[path] = int(trio.current_time() * 1e9) + 1
        self.watcher._inbox.put([(path, Change.REPLACED)])


class Taken:
    """Every batch the consumer took, with when and what each file's size was then."""

    def __init__(self, folder: FakeFolder) -> None:
        self.folder = folder
        self.batches: list[tuple[float, dict[Path, int | None]]] = []

    async def consume(self) -> None:
        while True:
            paths = await self.folder.watcher.next_changes(min_quiet_s=QUIET_S, max_delay_s=1.0)
            sizes = {path: self.folder.sizes.get(path) for path in paths}
            self.batches.append((trio.current_time(), sizes))

    def of(self, path: Path) -> list[tuple[float, int | None]]:
        return [(at, sizes[path]) for at, sizes in self.batches if path in sizes]

    async def all_sizes(self, path: Path) -> list[int | None]:
        """Wait for ``path``, then long enough for any later batch of it (5 virtual
        seconds): the sizes it had in each batch."""
        await self.wait_for(path)
        await trio.sleep(5.0)
        return [size for _, size in self.of(path)]

    async def wait_for(self, path: Path, count: int = 1) -> None:
        with trio.fail_after(DEADLINE_S):
            while len(self.of(path)) < count:
                await trio.sleep(0.001)


@pytest.fixture
async def taken(nursery: trio.Nursery) -> Taken:
    watcher = DirWatcher([D], hold=HOLD)
    result = Taken(FakeFolder(watcher))
    nursery.start_soon(result.consume)
    return result


async def test_two_writes_100_ms_apart_are_one_batch_after_the_close(
    taken: Taken, autojump_clock: trio.testing.MockClock
) -> None:
    big = D / "big.bin"
    start = trio.current_time()
    taken.folder.write(big, 25_000_000)
    await trio.sleep(0.1)  # the writer's pause, far longer than the 20 ms quiet
    taken.folder.write(big, 50_000_000)
    await trio.sleep(0.05)
    closed_at = trio.current_time()
    taken.folder.close(big)
    assert await taken.all_sizes(big) == [50_000_000]
    at = taken.of(big)[0][0]
    assert closed_at <= at <= closed_at + HOLD.stable_s + QUIET_S + 0.01
    assert start + 0.15 <= at


def editor_save(folder: FakeFolder, path: Path) -> None:
    folder.write(path, 120, closed=True)  # open, write, close at once


def rename_onto(folder: FakeFolder, path: Path) -> None:
    folder.replace(path, 120)  # an atomic save: complete, nothing to stat


def left_empty(folder: FakeFolder, path: Path) -> None:
    folder.write(path, 0, closed=True)  # maybe a truncation before a write: waits


def kept_open(folder: FakeFolder, path: Path) -> None:
    folder.write(path, 120)  # and the writer keeps it open, quiet


@pytest.mark.parametrize(
    ("change", "delay_s", "stats"),
    [
        (editor_save, QUIET_S, 2),
        (rename_onto, QUIET_S, 0),
        (left_empty, HOLD.empty_hold_s, 2),
        (kept_open, HOLD.open_hold_s, 2),
    ],
)
async def test_a_lone_change_is_taken_after_its_wait(
    taken: Taken,
    autojump_clock: trio.testing.MockClock,
    change: Callable[[FakeFolder, Path], None],
    delay_s: float,
    stats: int,
) -> None:
    notes = D / "notes.md"
    changed_at = trio.current_time()
    change(taken.folder, notes)
    await taken.wait_for(notes)
    [(at, size)] = taken.of(notes)
    assert size == taken.folder.sizes[notes]
    assert at - changed_at == pytest.approx(delay_s, abs=0.005)
    assert taken.folder.stats == stats


@pytest.mark.parametrize("closed_empty", [True, False], ids=["closed-empty", "still-open"])
async def test_a_truncation_then_a_write_after_a_pause_is_one_change(
    taken: Taken, autojump_clock: trio.testing.MockClock, closed_empty: bool
) -> None:
    notes = D / "notes.md"
    # open(..., "w"), closed at once or kept open for the write that follows
    taken.folder.write(notes, 0, closed=closed_empty)
    await trio.sleep(0.3)
    taken.folder.write(notes, 4_000, closed=True)
    assert await taken.all_sizes(notes) == [4_000]


async def test_an_appender_that_never_pauses_is_still_taken_every_open_max(
    taken: Taken, autojump_clock: trio.testing.MockClock
) -> None:
    log = D / "app.log"
    started = trio.current_time()

    async def append_forever() -> None:
        size = 0
        while True:
            size += 10
            taken.folder.write(log, size)
            await trio.sleep(0.1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(append_forever)
        await taken.wait_for(log, count=2)
        nursery.cancel_scope.cancel()
    first, second = (at for at, _ in taken.of(log)[:2])
    assert first - started == pytest.approx(HOLD.open_max_s, abs=0.15)
    assert second - first == pytest.approx(HOLD.open_max_s, abs=0.15)


async def test_a_file_being_written_does_not_delay_another_save(
    taken: Taken, autojump_clock: trio.testing.MockClock
) -> None:
    log, notes = D / "app.log", D / "notes.md"

    async def append_forever() -> None:
        for size in range(10, 100_000, 10):
            taken.folder.write(log, size)
            await trio.sleep(0.005)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(append_forever)
        await trio.sleep(0.5)
        saved_at = trio.current_time()
        taken.folder.write(notes, 50, closed=True)
        await taken.wait_for(notes)
        nursery.cancel_scope.cancel()
    assert taken.of(notes)[0][0] - saved_at <= QUIET_S + 0.01
    assert taken.of(log) == []
    assert log in taken.folder.watcher.held()


async def test_a_size_change_after_the_close_without_an_event_is_waited_out(
    taken: Taken, autojump_clock: trio.testing.MockClock
) -> None:
    mapped = D / "mapped.db"
    taken.folder.write(mapped, 100, closed=True)
    # Then written through a memory map, twice: the stat moves, no event says so.
    for size, delay in ((200, 0.015), (300, 0.015)):
        await trio.sleep(delay)
        taken.folder.sizes[mapped] = size
        taken.folder.mtimes[mapped] += 1
    assert await taken.all_sizes(mapped) == [300]


async def test_held_reports_files_until_they_are_taken(
    taken: Taken, autojump_clock: trio.testing.MockClock
) -> None:
    notes = D / "notes.md"
    taken.folder.write(notes, 10)
    assert taken.folder.watcher.held() == {notes}  # still in the inbox: counts too
    await trio.sleep(0.5)
    assert taken.folder.watcher.held() == {notes}
    taken.folder.close(notes)
    await taken.wait_for(notes)
    assert taken.folder.watcher.held() == frozenset()


async def test_a_file_outside_the_filter_is_never_held(
    autojump_clock: trio.testing.MockClock,
) -> None:
    watcher = DirWatcher([D], hold=HOLD, filter=lambda path: path.suffix != ".tmp")
    folder = FakeFolder(watcher)
    folder.write(D / "x.tmp", 10)
    folder.write(D / "sub" / "y.md", 10)  # not watched: not recursive
    assert watcher.held() == frozenset()
