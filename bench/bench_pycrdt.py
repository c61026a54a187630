"""pycrdt itself on the automerge-paper trace: the baseline the other suites build on.

Loading a document from one snapshot (a full-state update) must be far cheaper than
replaying its history update by update; that is why logs are compacted (docs/storage.md).
"""

from __future__ import annotations

from typing import Any

import pycrdt

from bench.harness import BenchContext, Metric, timeit_best
from bench.traces import trace_updates

GROUP = "pycrdt baseline (automerge-paper trace)"
QUICK_UPDATES = 20_000


def run(ctx: BenchContext) -> None:
    """Time loading the snapshot against applying every update, and compare sizes."""
    updates = trace_updates("automerge-paper", client_id=1)
    if ctx.quick:
        updates = updates[:QUICK_UPDATES]

    def apply_all() -> pycrdt.Doc[Any]:
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        for update in updates:
            doc.apply_update(update)
        return doc

    snapshot = apply_all().get_update()

    def load_snapshot() -> None:
        pycrdt.Doc().apply_update(snapshot)

    apply_repeat, load_repeat = (1, 5) if ctx.quick else (3, 20)
    apply_s = timeit_best(apply_all, repeat=apply_repeat)
    load_s = timeit_best(load_snapshot, repeat=load_repeat)
    ctx.report(Metric(
        GROUP, "load snapshot", load_s, "s",
        f"apply all {len(updates):,} updates", apply_s, 0.1,
        note="one full-state update (Doc.get_update()) applied to a fresh Doc, against the "
        f"same history applied one update at a time; best of {load_repeat} and of {apply_repeat}",
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, "snapshot size", len(snapshot), "bytes",
        "sum of the update sizes", sum(len(u) for u in updates), 0.5,
        note="deleted text is garbage collected in the snapshot; each update also "
        "carries its own header",
    ))  # fmt: skip
