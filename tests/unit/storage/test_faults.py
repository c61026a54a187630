"""Injected ENOSPC and EIO: an append fails loudly and leaves a readable log behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from p2psync.errors import LogWriteError
from p2psync.storage import DocLog, read_updates
from p2psync.storage.compaction import build_snapshot
from p2psync.storage.fileops import FileOps


class FaultyOps(FileOps):
    """Real file operations, except that call number ``fail_at`` (counting writes and
    fsyncs, of files and folders, together) fails: a write first stores half its data,
    as a full disk does."""

    def __init__(self, fail_at: int, error: int) -> None:
        self.fail_at = fail_at
        self.error = error
        self.calls = 0
        self.fail_truncate = False

    def _tick(self) -> bool:
        self.calls += 1
        return self.calls == self.fail_at

    def write_all(self, fd: int, data: bytes) -> None:
        if self._tick():
            os.write(fd, data[: len(data) // 2])
            raise OSError(self.error, os.strerror(self.error))
        super().write_all(fd, data)

    def fdatasync(self, fd: int) -> None:
        if self._tick():
            raise OSError(self.error, os.strerror(self.error))
        super().fdatasync(fd)

    def fsync(self, fd: int) -> None:
        if self._tick():
            raise OSError(self.error, os.strerror(self.error))
        super().fsync(fd)

    def fsync_dir(self, path: Path) -> None:
        if self._tick():
            raise OSError(self.error, os.strerror(self.error))
        super().fsync_dir(path)

    def truncate(self, fd: int, size: int) -> None:
        if self.fail_truncate:
            raise OSError(errno.EIO, "Input/output error")
        super().truncate(fd, size)


BATCHES = 6


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO])
def test_failure_at_every_write_and_fsync_position(
    tmp_path: Path, error: int, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    batches = [ups[i * 5 : (i + 1) * 5] for i in range(BATCHES)]
    # the header write (unsynced), write + fdatasync per append, and the folder's
    # fsync after the first append that succeeds so far
    positions = 2 * BATCHES + 2
    for fail_at in range(1, positions + 1):
        path = tmp_path / f"log-{error}-{fail_at}.log"
        ops = FaultyOps(fail_at, error)
        stored: list[bytes] = []
        failed_creating = False
        try:
            with DocLog.open(path, ops=ops).log as doclog:
                for batch in batches:
                    try:
                        doclog.append(batch)
                    except LogWriteError as exc:
                        assert os.strerror(error) in str(exc)
                        continue
                    stored.extend(batch)
        except LogWriteError as exc:  # the failure hit creating the file
            assert "cannot repair log" in str(exc)
            failed_creating = True
        assert ops.calls >= min(fail_at, positions), "the fault was never reached"
        # The log opens cleanly and holds exactly the acknowledged updates.
        assert read_updates(path) == stored
        reopened = DocLog.open(path)
        reopened.log.close()
        # Only a half-written header (the file's creation failed) needs repair.
        assert reopened.recovery is None or failed_creating
        assert reopened.updates == stored


def test_failed_rollback_makes_the_log_refuse_work_until_reopened(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    ops = FaultyOps(fail_at=5, error=errno.EIO)  # the second append's write
    doclog = DocLog.open(path, ops=ops).log
    doclog.append(ups[:3])
    ops.fail_truncate = True
    with pytest.raises(LogWriteError):
        doclog.append(ups[3:6])
    with pytest.raises(LogWriteError, match="could not undo"):
        doclog.append(ups[6:])
    doclog.close()
    reopened = DocLog.open(path)  # the half-written record is a torn tail
    reopened.log.close()
    assert reopened.updates == ups[:3]
    assert reopened.recovery is not None
    assert reopened.recovery.torn_bytes > 0


@pytest.mark.parametrize("fail_at", [1, 2])
def test_failed_compaction_leaves_the_old_log(
    tmp_path: Path, fail_at: int, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append(ups)
        before = path.read_bytes()
        snapshot = build_snapshot(path, doclog.end)
        doclog._ops = FaultyOps(fail_at, errno.ENOSPC)  # the temp write, then its fsync
        with pytest.raises(LogWriteError, match="compaction failed"):
            doclog.commit_compaction(doclog.end, snapshot)
        assert path.read_bytes() == before
        assert not list(tmp_path.glob(".*.tmp"))
        doclog.append([ups[0]])  # still usable
    assert read_updates(path) == [*ups, ups[0]]
