"""Answers computed from a doc's stored updates, without building the doc.

A peer's SyncStep1 for a doc that is not loaded is answered by merging the updates of
its log and taking the part the peer's state vector lacks (``pycrdt.merge_updates``
and ``pycrdt.get_update`` work on encoded updates). Measured on a 300-update log this
is about 3x cheaper than replaying the updates into a Doc, and about 25x cheaper once
the log was compacted into one snapshot record; nothing stays in memory afterwards
(docs/decisions.md, "Answering state vectors from the log").
"""

from __future__ import annotations

import pycrdt

from p2psync.errors import UpdateError

EMPTY_UPDATE = b"\x00\x00"


def diff_of_stored(guid: str, updates: list[bytes], state_vector: bytes) -> bytes:
    """The Yjs v1 update a replica at ``state_vector`` misses of the doc whose stored
    updates are ``updates``. Raises UpdateError naming ``guid`` if the state vector
    (or a stored update) does not decode."""
    if not updates:
        return EMPTY_UPDATE
    try:
        merged = updates[0] if len(updates) == 1 else pycrdt.merge_updates(*updates)
        return pycrdt.get_update(merged, state_vector)
    except ValueError as exc:
        raise UpdateError(f"doc {guid}: cannot answer the state vector ({exc})") from exc
