"""A real editing trace stored through the log: appended, compacted, replayed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pycrdt
import trio

from p2psync.storage import DocLog, read_state
from p2psync.storage import format as fmt
from p2psync.storage.writer import LogWriter
from tests.conftest import text_of

TRACES = Path(__file__).parents[3].parent / "shared" / "data" / "editing-traces"
BATCH_UPDATES = 100


def trace_updates(name: str) -> tuple[list[bytes], str]:
    """One Yjs update per patch of the trace, and the trace's final text."""
    with gzip.open(TRACES / f"{name}.json.gz") as f:
        trace = json.load(f)
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=1)
    text = doc.get("content", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    mirror = trace["startContent"]
    for txn in trace["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            start = len(mirror[:pos].encode())  # pycrdt Text indices are UTF-8 bytes
            end = len(mirror[: pos + deleted].encode())
            with doc.transaction():
                if deleted:
                    del text[start:end]
                if inserted:
                    text.insert(start, inserted)
            mirror = mirror[:pos] + inserted + mirror[pos + deleted :]
    assert str(text) == trace["endContent"]
    return updates, trace["endContent"]


async def test_automerge_paper_trace_round_trips_through_the_log(tmp_path: Path) -> None:
    updates, end_content = trace_updates("automerge-paper")
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
