"""Document logs on the automerge-paper trace (259,778 updates), against pycrdt itself."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pycrdt
import trio

from bench.harness import BenchContext, Metric, timed
from bench.traces import trace_updates
from p2psync.replica.doc import DocReplica
from p2psync.storage import DocLog
from p2psync.storage.compaction import replay
from p2psync.storage.snapshotter import SnapshotWorker
from p2psync.storage.writer import LogWriter

GROUP = "Storage (automerge-paper trace)"
FRAME_UPDATES = 100  # updates arrive from peers in frames of many updates


def run(ctx: BenchContext) -> None:
    updates = trace_updates("automerge-paper")
    if ctx.quick:
        updates = updates[:20_000]
    doc: pycrdt.Doc[Any] = pycrdt.Doc()

    def apply_all() -> None:
        nonlocal doc
        doc = pycrdt.Doc()
        for update in updates:
            doc.apply_update(update)

    apply_s = timed(apply_all)
    snapshot_size = len(doc.get_update())
    get_update_s = timed(doc.get_update)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paper.ylog"
        append_s = trio.run(_append_all, path, updates)
        ctx.report(Metric(
            GROUP, "durable append of every update", append_s, "s",
            "pycrdt apply of the same updates", apply_s, 0.5,
            note=f"LogWriter, updates queued {FRAME_UPDATES} at a time as frames deliver them, "
            "then one flush; group commit writes each batch as one record with one fdatasync",
        ))  # fmt: skip

        def replay_log() -> None:
            opened = DocLog.open(path)
            opened.log.close()
            replay(opened.updates)

        ctx.report(Metric(
            GROUP, "replay of the uncompacted log", timed(replay_log), "s",
            "pycrdt apply of the same updates", apply_s, 1.5,
            note="open (every CRC verified) + apply every update into a new Doc",
        ))  # fmt: skip
        compact_s = trio.run(_compact_with_worker, path)
        ctx.report(Metric(
            GROUP, "compaction of a log (doc not loaded)", compact_s, "s",
            "pycrdt apply + get_update()", apply_s + get_update_s, 1.2,
            note="as the daemon does it: the snapshot is built by its warm worker "
            "subprocess (the log is over 1 MiB), so the event loop never stalls",
        ))  # fmt: skip
        compacted_size = path.stat().st_size
        ctx.report(Metric(
            GROUP, "snapshot log size", compacted_size, "bytes",
            "Doc.get_update() size", snapshot_size, 1.05,
        ))  # fmt: skip

        path.unlink()
        trio.run(_append_all, path, updates)
        live = DocReplica("paper", updates)
        ctx.report(Metric(
            GROUP, "compaction of a loaded doc (daemon)", trio.run(_compact, path, live), "s",
            "pycrdt apply + get_update()", apply_s + get_update_s, 1.2,
            note="the daemon snapshots the doc it holds in memory: no replay",
        ))  # fmt: skip


async def _append_all(path: Path, updates: list[bytes]) -> float:
    writer = LogWriter(DocLog.open(path).log)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        start = trio.current_time()
        for i in range(0, len(updates), FRAME_UPDATES):
            await writer.enqueue(updates[i : i + FRAME_UPDATES])
        await writer.flush()
        elapsed = trio.current_time() - start
        await writer.aclose()
    writer.log.close()
    return elapsed


async def _compact_with_worker(path: Path) -> float:
    """Compact ``path`` through a SnapshotWorker that has already served once."""
    worker = SnapshotWorker()
    try:
        scratch = path.with_name("warm-up.ylog")
        with DocLog.open(scratch).log as doclog:
            doclog.append([b"\x00\x00"])
            await worker.build(scratch, doclog.end)  # start the worker: it stays warm
        writer = LogWriter(DocLog.open(path).log, snapshots=worker)
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            start = trio.current_time()
            await writer.compact()
            elapsed = trio.current_time() - start
            await writer.aclose()
        writer.log.close()
    finally:
        await worker.aclose()
    return elapsed


async def _compact(path: Path, live: DocReplica | None) -> float:
    writer = LogWriter(DocLog.open(path).log)

    async def live_state(unseen: list[bytes]) -> bytes:
        assert live is not None
        return live.full_state()

    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        start = trio.current_time()
        await writer.compact(live_state if live is not None else None)
        elapsed = trio.current_time() - start
        await writer.aclose()
    writer.log.close()
    return elapsed
