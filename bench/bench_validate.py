"""The cost of checking untrusted updates before they reach a live Doc (docs/security.md).

Every update from a peer is scanned (``protocol.yjs_update.scan_update``) and its
dependencies compared with the doc's state vector before pycrdt applies it
(``replica.validate.apply_checked``). The target: the checked path, as the daemon runs
it (``DocReplica.apply_many(..., remote=True)``), costs at most twice the same path
with the check taken out (``apply_checked`` replaced by plain ``apply_in_chunks``,
which is what DocReplica did before), on the automerge-paper trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any
from unittest import mock

import pycrdt

from bench.harness import BenchContext, Metric, timeit_best
from bench.traces import trace_updates
from p2psync.replica import doc as doc_module
from p2psync.replica.doc import DocReplica
from p2psync.replica.validate import Checked, Outcome
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
    step = BATCH_UPDATES
    batches: list[Sequence[bytes]] = [updates[i : i + step] for i in range(0, len(updates), step)]
    snapshot = _unchecked(lambda doc: apply_in_chunks(doc, updates)).get_update()

    shapes: list[tuple[str, str, list[Sequence[bytes]]]] = [
        ("live updates, one per frame", f"{len(updates):,} updates", [[u] for u in updates]),
        (f"catch-up frames of {BATCH_UPDATES} updates", f"{len(batches):,} frames", batches),
        ("one full-state SyncStep2", f"{len(snapshot):,} bytes", [[snapshot]]),
    ]
    notes = {
        shapes[2][0]: " A full state is scanned struct by struct in Python while pycrdt "
        "applies it in Rust; it comes once per doc when a replica first syncs it.",
    }
    for name, size, frames in shapes:
        checked = timeit_best(functools.partial(_checked, frames), repeat=repeat)
        unchecked = timeit_best(functools.partial(_unchecked_frames, frames), repeat=repeat)
        ctx.report(Metric(
            GROUP, f"checked: {name}", checked, "s", "unchecked apply of the same", unchecked,
            TARGET_RATIO,
            note=f"{size}; DocReplica.apply_many(remote=True) per frame, against the same "
            f"with apply_checked replaced by apply_in_chunks; best of {repeat}."
            + notes.get(name, ""),
        ))  # fmt: skip


def _checked(frames: list[Sequence[bytes]]) -> None:
    replica = DocReplica("bench")
    for frame in frames:
        applied = replica.apply_many(frame, remote=True)
        assert applied.error is None
        assert not applied.missing


def _unchecked_frames(frames: list[Sequence[bytes]]) -> None:
    with mock.patch.object(doc_module, "apply_checked", _apply_unchecked):
        _checked(frames)


def _apply_unchecked(
    doc: pycrdt.Doc[Any], updates: Sequence[bytes], state: dict[int, int], *, allow_missing: bool
) -> Checked:
    """``apply_checked`` without the checks: what DocReplica did before it existed."""
    apply_in_chunks(doc, updates)
    return Checked(Outcome.APPLIED)


def _unchecked(apply: Callable[[pycrdt.Doc[Any]], None]) -> pycrdt.Doc[Any]:
    """A Doc observed like DocReplica's (each delta collected), fed by ``apply``."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    deltas: list[bytes] = []
    subscription = doc.observe(lambda event: deltas.append(event.update))
    apply(doc)
    doc.unobserve(subscription)
    return doc
