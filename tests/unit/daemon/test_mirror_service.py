"""The mirror service's batch loop while the watcher holds a file being written.

The mirror and the watcher are fakes that record what the loop asks of them; the
clock is Trio's autojump clock, so the bound on the wait costs no real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest
import trio
import trio.testing

from p2psync.daemon.events import EventBus
from p2psync.daemon.mirror import (
    RESCAN_INTERVAL_S,
    RESCAN_MAX_INTERVAL_S,
    SAVE_HOLD,
    MirrorService,
)
from p2psync.mirror.engine import DocStore, Mirror
from p2psync.storage.layout import marker_dir
from p2psync.watch import DirWatcher

BIG, OTHER = "big.bin", "other.md"


@dataclass
class FakeEntry:
    path: str


@dataclass
class FakeView:
    by_guid: dict[str, FakeEntry] = field(
        default_factory=lambda: {"g-big": FakeEntry(BIG), "g-other": FakeEntry(OTHER)}
    )

    @property
    def by_path(self) -> dict[str, FakeEntry]:
        return {entry.path: entry for entry in self.by_guid.values()}


@dataclass
class FakeProblems:
    """The mirror's problems listing (``Problems.listing``), as a test sets it."""

    listed: list[dict[str, str]] = field(default_factory=list)

    def listing(self) -> list[dict[str, str]]:
        return self.listed


@dataclass
class FakeMirror:
    """Records the calls ``MirrorService._serve`` makes."""

    root: Path
    view: FakeView = field(default_factory=FakeView)
    problems: FakeProblems = field(default_factory=FakeProblems)
    rescans: list[float] = field(default_factory=list)
    rescanned: list[set[str]] = field(default_factory=list)
    local: list[set[str]] = field(default_factory=list)
    remote: list[set[str]] = field(default_factory=list)
    manifest_reads: list[float] = field(default_factory=list)
    hold: trio.Event | None = None
    """Set: each ``remote_changed`` waits for it (a batch writing a first sync's files)."""
    rescan_takes: float = 0.0
    """How long each ``rescan`` takes (virtual time)."""

    def read_manifest(self) -> None:
        self.manifest_reads.append(trio.current_time())

    async def rescan(self, also: Collection[str] = ()) -> None:
        self.rescans.append(trio.current_time())
        self.rescanned.append(set(also))
        await trio.sleep(self.rescan_takes)

    async def local_changes(self, rels: Collection[str]) -> None:
        self.local.append(set(rels))
        await trio.lowlevel.checkpoint()

    async def remote_changed(self, changes: dict[str, object]) -> None:
        self.remote.append(set(changes))
        if self.hold is not None:
            await self.hold.wait()

    async def flush(self, started: float | None = None) -> None:
        await trio.lowlevel.checkpoint()


@dataclass
class FakeWatcher:
    files: frozenset[Path] = frozenset()

    def held(self) -> frozenset[Path]:
        return self.files


@asynccontextmanager
async def serving(
    tmp_path: Path, *, scanned: bool = True
) -> AsyncIterator[tuple[MirrorService, FakeMirror, FakeWatcher]]:
    """A service whose batch loop runs (cancelled on exit), its watcher holding
    ``BIG`` until told otherwise; its first rescan done already if ``scanned``."""
    marker_dir(tmp_path).mkdir(parents=True)
    service = MirrorService(
        tmp_path, cast(DocStore, None), EventBus(),
        device=b"d" * 16, share="s", on_stopped=lambda _: None,
    )  # fmt: skip
    mirror, watcher = FakeMirror(tmp_path), FakeWatcher(frozenset({tmp_path.absolute() / BIG}))
    service.mirror = cast(Mirror, mirror)
    service._watcher = cast(DirWatcher, watcher)
    service._scanned = scanned
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service._serve)
        yield service, mirror, watcher
        nursery.cancel_scope.cancel()


async def settle() -> None:
    """Let the loop handle what it was woken for (virtual time: no real wait)."""
    await trio.sleep(0.001)
    await trio.testing.wait_all_tasks_blocked()


async def test_a_rescan_waits_while_a_file_is_being_written(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with serving(tmp_path) as (service, mirror, watcher):
        service._rescan = True
        service._wake.set()
        await settle()
        assert mirror.rescans == []
        watcher.files = frozenset()  # the file was taken: that batch wakes the loop
        service._wake.set()
        await settle()
        assert len(mirror.rescans) == 1


async def test_a_rescan_waits_for_a_held_file_at_most_open_max(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    async with serving(tmp_path) as (service, mirror, _):
        service._rescan = True
        with trio.fail_after(SAVE_HOLD.open_max_s * 3):
            while not mirror.rescans:  # woken every second, the file held all along
                service._wake.set()
                await trio.sleep(1.0)
    assert mirror.rescans[0] - start >= SAVE_HOLD.open_max_s
    assert mirror.rescans[0] - start <= SAVE_HOLD.open_max_s + 1.5


async def test_a_peers_change_to_a_file_being_written_waits_for_it(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with serving(tmp_path) as (service, mirror, watcher):
        service.doc_changed("g-big", "bob")
        service.doc_changed("g-other", "bob")
        await settle()
        assert mirror.remote == [{"g-other"}]
        watcher.files = frozenset()
        service._wake.set()
        await settle()
        assert mirror.remote == [{"g-other"}, {"g-big"}]


async def test_nothing_is_mirrored_before_the_first_rescan_which_covers_the_watchers_paths(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # Started with a file being written: the first rescan waits for it. A save the
    # watcher reports meanwhile (a file renamed while the daemon was down, then
    # written) and a peer's change wait with it, else the save would be taken in
    # without the rest of the folder (the old path of the rename unseen).
    async with serving(tmp_path, scanned=False) as (service, mirror, watcher):
        service._rescan = True
        service._paths.add(tmp_path.absolute() / "renamed.txt")
        service.doc_changed("g-other", "bob")
        await settle()
        assert (mirror.rescans, mirror.local, mirror.remote) == ([], [], [])
        watcher.files = frozenset()
        service._wake.set()
        await settle()
        assert mirror.rescanned == [{"renamed.txt"}]
        assert mirror.manifest_reads == mirror.rescans  # read as stored just before it
        assert mirror.local == []  # the rescan looked at it
        assert mirror.remote == [{"g-other"}]
        service._paths.add(tmp_path.absolute() / "later.txt")
        service._wake.set()
        await settle()
        assert mirror.local == [{"later.txt"}]
        assert len(mirror.rescans) == 1


async def test_after_peers_changes_listed_paths_no_file_holds_any_more_are_looked_at_again(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """A peer's file that could not be written here and was deleted since: no entry
    and nothing on disk hold its path, and only a look at it clears its listing."""
    (tmp_path / "here.md").write_text("on disk\n")
    async with serving(tmp_path) as (service, mirror, watcher):
        watcher.files = frozenset()
        mirror.problems.listed = [
            {"path": "gone.md", "kind": "file-error", "reason": "cannot write it"},
            {"path": "here.md", "kind": "file-error", "reason": "cannot read it"},
            {"path": OTHER, "kind": "file-error", "reason": "cannot write it"},
            {"path": "'a\\x00b'", "kind": "unsafe-path", "reason": "it holds a NUL"},
        ]
        service.doc_changed("g-other", "bob")
        await settle()
        assert mirror.remote == [{"g-other"}]
        assert mirror.local == [{"gone.md"}]


async def test_the_docs_of_a_running_batch_wait_until_it_ends(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with serving(tmp_path) as (service, mirror, watcher):
        watcher.files = frozenset()
        mirror.hold = trio.Event()
        service.doc_changed("g-other", "bob")
        await settle()
        assert mirror.remote == [{"g-other"}]  # taken by a batch, not done yet
        service.doc_changed("g-big", "bob")
        assert service.docs_waiting == {"g-other", "g-big"}
        mirror.hold.set()
        await settle()
        assert mirror.remote == [{"g-other"}, {"g-big"}]
        assert service.docs_waiting == set()


@pytest.mark.parametrize(
    ("takes", "gap"),
    [(0.0, RESCAN_INTERVAL_S), (3.0, 3.0 + 150.0), (20.0, 20.0 + RESCAN_MAX_INTERVAL_S)],
    ids=["small-share", "100k-files", "longest"],
)
async def test_rescans_take_at_most_a_fiftieth_of_the_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, takes: float, gap: float
) -> None:
    """A share whose look at the whole folder takes 3 s (100,000 files) is looked at
    every 150 s, not every 30 s (its idle daemon used 10 % of a core), and none waits
    longer than 10 minutes."""
    async with serving(tmp_path) as (service, mirror, watcher):
        watcher.files = frozenset()
        mirror.rescan_takes = takes
        async with trio.open_nursery() as nursery:
            nursery.start_soon(service._tick)
            while len(mirror.rescans) < 3:
                await trio.sleep(1.0)
            nursery.cancel_scope.cancel()
    first, second, third = mirror.rescans
    for start, end in ((first, second), (second, third)):
        assert gap <= end - start <= gap + 1.0
