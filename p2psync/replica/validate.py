"""Applying untrusted Yjs updates to a live pycrdt Doc without letting them harm it.

Remote bytes are hostile until proven otherwise (docs/security.md). pycrdt raises
ValueError for most malformed updates, but for some it panics (``PanicException``, a
BaseException) and the Doc is unusable afterwards, and some updates that skip clocks
it integrates anyway, so the replica's state vector would claim changes it never
received. ``apply_checked`` therefore reads every update's structure first
(``protocol.yjs_update.scan_update``) and applies only updates that are well formed and
whose dependencies the doc holds:

- updates are merged a few dozen at a time (as ``storage.compaction.apply_in_chunks``
  does, for speed) and the *merged* bytes, exactly what the Doc will see, are scanned;
  a chunk that fails is retried one update at a time to find the culprit;
- an update that needs something the doc lacks (a gap) is not applied when gaps are
  refused (updates from peers): the caller asks the peer for the missing range;
- a panic that still happens (a Yrs bug the scan does not know) is caught as
  ``PanicException`` only, never KeyboardInterrupt, SystemExit or a cancellation, and
  reported as ``Outcome.PANIC``: the caller must rebuild the Doc from its log.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, NamedTuple

import pycrdt

from p2psync.errors import MalformedYjsError
from p2psync.protocol.yjs import decode_state_vector
from p2psync.protocol.yjs_update import UpdateShape, scan_update

CHUNK_UPDATES = 50
"""Updates merged into one before scanning and applying (the load path's chunk size)."""

YDoc = pycrdt.Doc[Any]


class Outcome(enum.Enum):
    """How ``apply_checked`` ended."""

    APPLIED = "applied"  # every update was applied
    MALFORMED = "malformed"  # the update at ``stopped_at`` is not a safe Yjs v1 update
    MISSING = "missing"  # the update at ``stopped_at`` depends on something not held
    PANIC = "panic"  # pycrdt panicked or kept part of it pending: the Doc is poisoned


class Checked(NamedTuple):
    """The result of ``apply_checked``: the updates before ``stopped_at`` were applied
    (all of them when ``outcome`` is APPLIED); ``reason`` says what was wrong."""

    outcome: Outcome
    stopped_at: int | None = None
    reason: str = ""


def is_panic(exc: BaseException) -> bool:
    """True for pycrdt's ``pyo3_runtime.PanicException`` (not importable by name)."""
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


def apply_checked(
    doc: YDoc, updates: Sequence[bytes], state: dict[int, int], *, allow_missing: bool
) -> Checked:
    """Apply ``updates`` in order to ``doc``, whose decoded state vector is ``state``
    (kept up to date in place as updates are applied).

    Stops at the first update that is malformed, or that depends on clocks ``doc`` does
    not hold unless ``allow_missing`` (trusted local updates: pycrdt then keeps them
    pending). Never raises for bad input; a pycrdt panic is reported as PANIC.
    """
    if len(updates) == 1:  # the usual live update: no chunking
        problem = _apply_one(doc, updates[0], state, allow_missing)
        return Checked(Outcome.APPLIED) if problem is None else problem._replace(stopped_at=0)
    for start in range(0, len(updates), CHUNK_UPDATES):
        chunk = updates[start : start + CHUNK_UPDATES]
        merged = _apply_merged(doc, chunk, state, allow_missing) if len(chunk) > 1 else None
        if merged is not None:
            if merged.outcome is Outcome.PANIC:
                return merged._replace(stopped_at=start)
            continue
        for offset, update in enumerate(chunk):
            problem = _apply_one(doc, update, state, allow_missing)
            if problem is not None:
                return problem._replace(stopped_at=start + offset)
    return Checked(Outcome.APPLIED)


def malformed(update: bytes) -> str | None:
    """Why ``update`` is not a Yjs v1 update a Doc can integrate safely, judged on its
    bytes alone (no Doc: for checks before anything is created); None if it is one."""
    try:
        scan_update(update)
    except MalformedYjsError as exc:
        return str(exc)
    return None


def _apply_merged(
    doc: YDoc, chunk: Sequence[bytes], state: dict[int, int], allow_missing: bool
) -> Checked | None:
    """Merge ``chunk``, scan and apply it. None (nothing applied) if the merge, the scan
    or the dependencies fail, so the caller goes through the chunk one update at a
    time; APPLIED, or PANIC if pycrdt panicked on the merged update."""
    try:
        merged = pycrdt.merge_updates(*chunk)
        shape = scan_update(merged)
    except (ValueError, MalformedYjsError):
        return None
    except BaseException as exc:
        if not is_panic(exc):
            raise
        return None  # merging is pure: no Doc was touched
    if shape.missing(state) and not allow_missing:
        return None
    problem = _apply(doc, merged)
    if problem is None:
        problem = _check_integrated(doc, shape, state, allow_missing)
    if problem is None:
        return Checked(Outcome.APPLIED)
    return problem if problem.outcome is Outcome.PANIC else None  # ValueError: Doc unchanged


def _apply_one(
    doc: YDoc, update: bytes, state: dict[int, int], allow_missing: bool
) -> Checked | None:
    try:
        shape = scan_update(update)
    except MalformedYjsError as exc:
        return Checked(Outcome.MALFORMED, reason=str(exc))
    if shape.missing(state) and not allow_missing:
        return Checked(Outcome.MISSING, reason="it depends on changes this replica does not hold")
    problem = _apply(doc, update)
    if problem is None:
        problem = _check_integrated(doc, shape, state, allow_missing)
    return problem


def _check_integrated(
    doc: YDoc, shape: UpdateShape, state: dict[int, int], allow_missing: bool
) -> Checked | None:
    """Advance ``state`` past an applied update. If its dependencies lay partly in the
    update itself under other clients (``shape.internal``), check that pycrdt really
    integrated it all: a cycle would stay pending inside the Doc, growing with each
    such update, so it counts as poisoning (the Doc is rebuilt from its log)."""
    expected = dict(state)
    shape.advance(expected)
    checked = shape.internal and not allow_missing
    if checked and decode_state_vector(doc.get_state()) != expected:
        return Checked(Outcome.PANIC, reason="it left changes pending in the CRDT engine")
    state.update(expected)
    return None


def _apply(doc: YDoc, update: bytes) -> Checked | None:
    try:
        doc.apply_update(update)
    except ValueError as exc:
        return Checked(Outcome.MALFORMED, reason=str(exc))
    except BaseException as exc:
        if not is_panic(exc):
            raise
        return Checked(Outcome.PANIC, reason=f"it crashed the CRDT engine ({exc})")
    return None
