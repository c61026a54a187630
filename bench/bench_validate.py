"""The cost of checking untrusted updates before they reach a live Doc (DESIGN §5, §7).

Every update from a peer is scanned (``protocol.yjs_update.scan_update``) and its
dependencies compared with the doc's state vector before pycrdt applies it
(``replica.validate.apply_checked``). The target: the checked path, as the daemon runs
it (``DocReplica.apply_many(..., remote=True)``), costs at most twice the unchecked
one it replaced (the same batching over a pycrdt Doc whose observer collects each
transaction's delta, as DocReplica's does), on the automerge-paper trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import pycrdt

from bench.harness import BenchContext, Metric, timeit_best
from bench.traces import trace_updates
from p2psync.replica.doc import DocReplica
from p2psync.storage.compaction import apply_in_chunks

GROUP = "Validating untrusted updates (automerge-paper trace)"
QUICK_UPDATES = 20_000
BATCH_UPDATES = 50
TARGET_RATIO = 2.0


def run(ctx: BenchContext) -> None:
    """Time checked against unchecked application for three shapes of peer traffic."""
    updates = trace_updates("automerge-paper", client_id=1)
    if ctx.quick:
        updates = updates[:QUICK_UPDATES]
    repeat = 1 if ctx.quick else 3
    batches: list[Sequence[bytes]] = [updates[i : i + BATCH_UPDATES] for i in range(0, len(updates), BATCH_UPDATES)]
    snapshot = _unchecked(lambda doc: apply_in_chunks(doc, updates)).get_update()

    shapes: list[tuple[str, str, list[Sequence[bytes]]]] = [
        ("live updates, one per frame", f"{len(updates):,} updates", [[u] for u in updates]),
        (f"catch-up frames of {BATCH_UPDATES} updates", f"{len(batches):,} frames", batches),
        ("one full-state SyncStep2", f"{len(snapshot):,} bytes", [[snapshot]]),
    ]
    for name, size, frames in shapes:
        checked = timeit_best(functools.partial(_checked, frames), repeat=repeat)
        unchecked = timeit_best(functools.partial(_unchecked_frames, frames), repeat=repeat)
        ctx.report(Metric(
            GROUP, f"checked: {name}", checked, "s", "unchecked apply of the same", unchecked,
            TARGET_RATIO,
            note=f"{size}; DocReplica.apply_many(remote=True) per frame against pycrdt "
            f"apply (chunks of {BATCH_UPDATES} merged) with the same observer; best of {repeat}",
        ))  # fmt: skip


def _checked(frames: list[Sequence[bytes]]) -> None:
    replica = DocReplica("bench")
    for frame in frames:
        applied = replica.apply_many(frame, remote=True)
        assert applied.error is None
        assert not applied.missing


def _unchecked_frames(frames: list[Sequence[bytes]]) -> None:
    def apply(doc: pycrdt.Doc[Any]) -> None:
        for frame in frames:
            apply_in_chunks(doc, frame)

    _unchecked(apply)


def _unchecked(apply: Callable[[pycrdt.Doc[Any]], None]) -> pycrdt.Doc[Any]:
    """A Doc observed like DocReplica's (each delta collected), fed by ``apply``."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    deltas: list[bytes] = []
    subscription = doc.observe(lambda event: deltas.append(event.update))
    apply(doc)
    doc.unobserve(subscription)
    return doc
