"""append_group: many logs' appends as one group commit, each log stored or not alone;
grouped_folder_syncs: many atomic writes, one folder fsync."""

from __future__ import annotations

import contextvars
import errno
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from p2psync.errors import LogWriteError
from p2psync.storage import DocLog, read_updates
from p2psync.storage.doclog import append_group
from p2psync.storage.fileops import FileOps, grouped_folder_syncs, write_file_atomically


class CountingOps(FileOps):
    """Real file operations that count folder fsyncs, and fail the fdatasync of the
    file descriptors in ``failing``."""

    def __init__(self) -> None:
        self.folder_syncs = 0
        self.failing: set[int] = set()

    def fdatasync(self, fd: int) -> None:
        if fd in self.failing:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        super().fdatasync(fd)

    def fsync_dir(self, path: Path) -> None:
        self.folder_syncs += 1
        super().fsync_dir(path)


def test_new_logs_are_stored_with_one_folder_fsync(tmp_path: Path) -> None:
    ops = CountingOps()
    logs = [DocLog.open(tmp_path / f"d{i}.log", ops=ops).log for i in range(20)]
    results = append_group([(log, [f"u{i}".encode(), b"v"]) for i, log in enumerate(logs)])
    assert results == [None] * 20
    assert ops.folder_syncs == 1
    for i, log in enumerate(logs):
        assert log.update_count == 2
        log.append([b"w"])  # the name is durable already: no folder fsync again
        log.close()
        assert read_updates(tmp_path / f"d{i}.log") == [f"u{i}".encode(), b"v", b"w"]
    assert ops.folder_syncs == 1


def test_a_log_whose_fsync_fails_stores_nothing_and_the_others_are_kept(tmp_path: Path) -> None:
    ops = CountingOps()
    logs = [DocLog.open(tmp_path / f"d{i}.log", ops=ops).log for i in range(3)]
    ops.failing.add(logs[1]._fd)
    results = append_group([(log, [b"x"]) for log in logs])
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], LogWriteError)
    assert logs[1].update_count == 0
    for log in logs:
        log.close()
    assert read_updates(tmp_path / "d0.log") == [b"x"]
    assert read_updates(tmp_path / "d1.log") == []
    assert read_updates(tmp_path / "d2.log") == [b"x"]


def test_atomic_writes_in_a_group_fsync_their_folder_once_at_its_end(tmp_path: Path) -> None:
    ops = CountingOps()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with grouped_folder_syncs(ops):
        for i in range(10):
            write_file_atomically(tmp_path / "a" / f"{i}", b"x", ops=ops)
        # a worker thread sees the group through a copy of this context
        with ThreadPoolExecutor(max_workers=2) as pool:
            write = partial(write_file_atomically, ops=ops)
            done = [
                pool.submit(contextvars.copy_context().run, write, tmp_path / "b" / f"{i}", b"y")
                for i in range(10)
            ]
            for step in done:
                step.result()
        assert ops.folder_syncs == 0
    assert ops.folder_syncs == 2  # one per folder, for all of its renames
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [str(i) for i in range(10)]
    assert (tmp_path / "b" / "9").read_bytes() == b"y"
    write_file_atomically(tmp_path / "a" / "after", b"z", ops=ops)
    assert ops.folder_syncs == 3  # outside a group: each write fsyncs its folder


def test_a_group_that_fails_fsyncs_no_folder(tmp_path: Path) -> None:
    ops = CountingOps()

    def stopped() -> None:
        with grouped_folder_syncs(ops):
            write_file_atomically(tmp_path / "f", b"x", ops=ops)
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        stopped()
    assert ops.folder_syncs == 0
