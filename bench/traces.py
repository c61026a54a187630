"""The real editing traces in ../shared/data/editing-traces, as Yjs updates."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pycrdt

TRACES_DIR = Path(
    os.environ.get(
        "P2PSYNC_TRACES", Path(__file__).parents[1].parent / "shared" / "data" / "editing-traces"
    )
)


def trace_updates(name: str, *, client_id: int = 1) -> tuple[list[bytes], str]:
    """One Yjs v1 update per patch of trace ``name`` (one transaction each, into the
    root Y.Text ``content``), and the trace's final text.

    Trace positions count code points; pycrdt Text indices are UTF-8 byte offsets,
    so each position is converted against a mirror of the text.
    """
    with gzip.open(TRACES_DIR / f"{name}.json.gz") as f:
        trace = json.load(f)
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
    text = doc.get("content", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    mirror: str = trace["startContent"]
    if mirror:
        text.insert(0, mirror)
    for txn in trace["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            start = len(mirror[:pos].encode())
            end = start + len(mirror[pos : pos + deleted].encode())
            with doc.transaction():
                if deleted:
                    del text[start:end]
                if inserted:
                    text.insert(start, inserted)
            mirror = mirror[:pos] + inserted + mirror[pos + deleted :]
    if str(text) != trace["endContent"]:
        raise AssertionError(f"trace {name} did not replay to its endContent")
    return updates, trace["endContent"]
