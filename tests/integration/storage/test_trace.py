"""A real editing trace stored through the log: appended, compacted, replayed."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from bench.traces import load_trace, trace_updates
from p2psync.storage import DocLog, read_state
from p2psync.storage import format as fmt
from p2psync.storage.writer import LogWriter
from tests.support.updates import text_of

BATCH_UPDATES = 100


@pytest.mark.slow
async def test_automerge_paper_trace_round_trips_through_the_log(tmp_path: Path) -> None:
    updates = trace_updates("automerge-paper")
    end_content = load_trace("automerge-paper").end_content
    assert len(updates) == 259_778
    path = tmp_path / "paper.ylog"
    writer = LogWriter(DocLog.open(path).log)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            for start in range(0, len(updates), BATCH_UPDATES):
                await writer.enqueue(updates[start : start + BATCH_UPDATES])
            await writer.flush()
            uncompacted = DocLog.open(path)
            uncompacted.log.close()
            assert uncompacted.updates == updates
            assert text_of(read_state(path)) == end_content
            await writer.compact()
            await writer.aclose()
    writer.log.close()
    compacted = DocLog.open(path)
    compacted.log.close()
    assert [r.type for r in compacted.records] == [fmt.RecordType.SNAPSHOT]
    assert text_of(read_state(path)) == end_content
    assert path.stat().st_size < 300_000  # the snapshot, not 260k records
