"""GroupSync: writers syncing at once share one syncfs, and none is told too early."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from p2psync.storage import DocLog, read_updates
from p2psync.storage.fileops import REAL_FILE_OPS
from p2psync.storage.groupsync import GroupedFileOps, GroupSync, grouped_ops

THREADS = 24


class FakeSyncfs:
    """Records each sync's start and end on one shared clock (a counter); a sync
    waits until released, so callers pile up behind it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clock = 0
        self.syncs: list[tuple[int, int]] = []
        self.gate = threading.Event()
        self.fail_next: int | None = None

    def tick(self) -> int:
        with self.lock:
            self.clock += 1
            return self.clock

    def __call__(self, fd: int) -> None:
        del fd
        start = self.tick()
        self.gate.wait(timeout=5)
        error, self.fail_next = self.fail_next, None
        self.syncs.append((start, self.tick()))
        if error is not None:
            raise OSError(error, os.strerror(error))


def _run_callers(group: GroupSync, fake: FakeSyncfs, fd: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    spans_lock = threading.Lock()

    def caller() -> None:
        arrived = fake.tick()
        group.sync(fd, group.mark())
        with spans_lock:
            spans.append((arrived, fake.tick()))

    threads = [threading.Thread(target=caller) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    fake.gate.set()
    for thread in threads:
        thread.join(timeout=10)
    return spans


def test_callers_share_syncs_and_each_waits_for_one_started_after_it(tmp_path: Path) -> None:
    fake = FakeSyncfs()
    group = GroupSync(fake)
    with (tmp_path / "f").open("wb") as file:
        spans = _run_callers(group, fake, file.fileno())
    assert len(spans) == THREADS
    assert 1 <= len(fake.syncs) < THREADS  # shared
    for arrived, returned in spans:
        # some sync began after this caller arrived and ended before it returned
        assert any(arrived < start and end < returned for start, end in fake.syncs)


def test_a_failed_sync_fails_its_callers_and_those_whose_writes_it_overlapped(
    tmp_path: Path,
) -> None:
    fake = FakeSyncfs()
    fake.gate.set()
    group = GroupSync(fake)
    with (tmp_path / "f").open("wb") as file:
        fd = file.fileno()
        before_failure = group.mark()  # a write made before the failing sync began
        fake.fail_next = errno.EIO
        with pytest.raises(OSError, match="Input/output error"):
            group.sync(fd, group.mark())
        # that sync may have flushed (and lost) this earlier write: it fails too
        with pytest.raises(OSError, match="Input/output error"):
            group.sync(fd, before_failure)
        group.sync(fd, group.mark())  # a write after the failure is stored normally
    assert len(fake.syncs) == 3


def test_grouped_appends_from_many_threads_keep_every_acknowledged_update(
    tmp_path: Path,
) -> None:
    ops = grouped_ops()
    if not isinstance(ops, GroupedFileOps):
        pytest.skip("this kernel's syncfs does not report writeback errors (Linux < 5.8)")
    logs = [DocLog.open(tmp_path / f"d{i}.log", ops=ops).log for i in range(THREADS)]
    errors: list[BaseException] = []

    def writer(doclog: DocLog, i: int) -> None:
        try:
            for n in range(5):
                doclog.append([f"{i}:{n}".encode()])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(log, i)) for i, log in enumerate(logs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for doclog in logs:
        doclog.close()
    assert errors == []
    for i in range(THREADS):
        assert read_updates(tmp_path / f"d{i}.log") == [f"{i}:{n}".encode() for n in range(5)]


def test_plain_operations_where_syncfs_is_not_grouped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.release", lambda: "5.4.0-generic")
    assert grouped_ops() is REAL_FILE_OPS
