"""The warm snapshot worker: correct snapshots, clear errors, restarts after a death."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from p2psync.errors import StorageError
from p2psync.storage import DocLog
from p2psync.storage.snapshotter import SnapshotWorker
from tests.support.updates import text_of, text_updates

DEADLINE_S = 60


def make_log(path: Path, updates: list[bytes]) -> int:
    with DocLog.open(path).log as doclog:
        doclog.append(updates)
        return doclog.end


async def test_worker_builds_snapshots_reports_damage_and_survives_a_kill(tmp_path: Path) -> None:
    updates, text = text_updates(40)
    good = tmp_path / "good.ylog"
    end = make_log(good, updates)
    bad = tmp_path / "bad.ylog"
    bad_end = make_log(bad, updates)
    damaged = bytearray(bad.read_bytes())
    damaged[30] ^= 0xFF
    bad.write_bytes(bytes(damaged))
    worker = SnapshotWorker()
    with trio.fail_after(DEADLINE_S):
        try:
            assert text_of(await worker.build(good, end)) == text
            with pytest.raises(StorageError, match="corrupt at byte offset 16"):
                await worker.build(bad, bad_end)
            assert text_of(await worker.build(good, end)) == text  # still serving
            assert worker._process is not None
            worker._process.kill()
            await worker._process.wait()
            assert text_of(await worker.build(good, end)) == text  # started again
        finally:
            await worker.aclose()
    assert worker._process is None
