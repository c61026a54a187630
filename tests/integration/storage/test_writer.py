"""LogWriter: group commit, reads of other processes' appends, compaction off the loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from p2psync.errors import LogWriteError
from p2psync.replica.doc import DocReplica
from p2psync.storage import DocLog, append_update, read_state, read_updates
from p2psync.storage import writer as writer_module
from p2psync.storage.fileops import FileOps
from p2psync.storage.writer import LogWriter
from tests.support.updates import text_of, text_updates

DEADLINE_S = 60


class CountingOps(FileOps):
    """Real file operations that count fsyncs."""

    def __init__(self) -> None:
        self.fdatasyncs = 0

    def fdatasync(self, fd: int) -> None:
        self.fdatasyncs += 1
        super().fdatasync(fd)


async def test_a_burst_of_appends_shares_few_fsyncs(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    ops = CountingOps()
    writer = LogWriter(DocLog.open(path, ops=ops).log)
    burst = [f"update {i}".encode() for i in range(10_000)]
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            async with trio.open_nursery() as appenders:
                for update in burst:
                    appenders.start_soon(writer.append, [update])
            await writer.aclose()
    writer.log.close()
    assert sorted(read_updates(path)) == sorted(burst)
    assert ops.fdatasyncs <= 100, f"{ops.fdatasyncs} fsyncs for 10,000 appends"


async def test_append_failure_reaches_every_caller_of_the_group(tmp_path: Path) -> None:
    class FullDisk(FileOps):
        def write_all(self, fd: int, data: bytes) -> None:
            raise OSError(28, "No space left on device")

    doclog = DocLog.open(tmp_path / "d.log").log
    doclog._ops = FullDisk()
    writer = LogWriter(doclog)
    failures: list[str] = []

    async def append_one(i: int) -> None:
        try:
            await writer.append([b"x%d" % i])
        except LogWriteError as exc:
            failures.append(str(exc))

    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            async with trio.open_nursery() as appenders:
                for i in range(20):
                    appenders.start_soon(append_one, i)
            await writer.aclose()
    doclog.close()
    assert len(failures) == 20
    assert all("No space left" in f for f in failures)
    assert read_updates(tmp_path / "d.log") == []


@pytest.mark.parametrize("in_subprocess", [False, True])
async def test_compaction_while_appending_keeps_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_subprocess: bool
) -> None:
    monkeypatch.setattr(writer_module, "SUBPROCESS_MIN_LOG_BYTES", 0 if in_subprocess else 1 << 40)
    ups, text = text_updates(600)
    path = tmp_path / "d.log"
    writer = LogWriter(DocLog.open(path).log)
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            for update in ups[:400]:
                await writer.append([update])

            async def keep_appending() -> None:
                for update in ups[400:]:
                    await writer.append([update])

            async with trio.open_nursery() as concurrent:
                concurrent.start_soon(keep_appending)
                await writer.compact()
            await writer.aclose()
    writer.log.close()
    assert text_of(read_state(path)) == text
    reopened = DocLog.open(path)
    reopened.log.close()
    assert reopened.records[0].type.name == "SNAPSHOT"
    assert len(reopened.records) <= 1 + 200


async def test_read_new_returns_only_other_processes_appends(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    writer = LogWriter(DocLog.open(path).log)
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            await writer.append([b"ours"])
            await trio.to_thread.run_sync(append_update, path, b"theirs")
            assert await writer.read_new() == [b"theirs"]
            assert await writer.read_new() == []
            await writer.aclose()
    writer.log.close()


async def test_compaction_from_a_live_doc_includes_unapplied_external_appends(
    tmp_path: Path,
) -> None:
    ups, text = text_updates(50)
    path = tmp_path / "d.log"
    writer = LogWriter(DocLog.open(path).log)
    live = DocReplica("d", ups[:40])
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            await writer.append(ups[:40])
            for update in ups[40:]:  # another process appends; the owner has not seen them
                await trio.to_thread.run_sync(append_update, path, update)
            await writer.append([ups[0]])  # our append discovers them, still unapplied

            async def live_state(unseen: list[bytes]) -> bytes:
                assert unseen == ups[40:]
                for update in unseen:
                    live.apply(update)
                return live.full_state()

            await writer.compact(live_state)
            await writer.aclose()
    writer.log.close()
    assert text_of(read_state(path)) == text
    assert DocLog.open(path).records[0].type.name == "SNAPSHOT"


async def test_flush_waits_for_what_was_queued_and_costs_nothing_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "d.log"
    writer = LogWriter(DocLog.open(path).log)
    hops = 0
    run_sync = trio.to_thread.run_sync

    async def counting_run_sync(*args: object, **kwargs: object) -> object:
        nonlocal hops
        hops += 1
        return await run_sync(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trio.to_thread, "run_sync", counting_run_sync)
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            for i in range(20):
                await writer.enqueue([f"update {i}".encode()])
                await writer.flush()  # returns only once the update is durable
                assert len(read_updates(path)) == i + 1
                assert writer.idle
            hops_before = hops
            for _ in range(50):
                await writer.flush()  # nothing unfinished: no trip through the thread
            assert hops == hops_before
            await writer.aclose()
    writer.log.close()
    assert read_updates(path) == [f"update {i}".encode() for i in range(20)]
