"""append_group: many logs' appends as one group commit, each log stored or not alone."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from p2psync.errors import LogWriteError
from p2psync.storage import DocLog, read_updates
from p2psync.storage.doclog import append_group
from p2psync.storage.fileops import FileOps


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
