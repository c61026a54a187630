"""Compaction: when a log is worth rewriting, and building its snapshot.

A snapshot is built by loading every update into a ``pycrdt.Doc`` and encoding its
full state, so deleted content is garbage collected. ``merge_updates`` is never used
over many updates: it is quadratic and does not collect garbage.

Building a large snapshot holds the GIL for a long time, which would stall the
daemon's event loop, so large ones are built by ``p2psync.storage.snapshot_worker``
in a subprocess; the daemon then commits them with ``DocLog.commit_compaction``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pycrdt

from p2psync.errors import CorruptLogError, StorageError
from p2psync.ids import new_client_id
from p2psync.storage import format as fmt
from p2psync.storage.doclog import LogStats

COMPACT_AFTER_RECORDS = 500
COMPACT_MIN_LOG_BYTES = 64 * 1024
COMPACT_GROWTH_FACTOR = 2
SUBPROCESS_MIN_LOG_BYTES = 1024 * 1024
MERGE_CHUNK_UPDATES = 50
WORKER_REPLY_HEADER = struct.Struct(">BQ")

YDoc = pycrdt.Doc[Any]
"""A pycrdt document whose roots may be of any shared type (pycrdt's boundary)."""


def should_compact(stats: LogStats) -> bool:
    """True when the log holds many records or has grown well past its last snapshot."""
    if stats.records_since_snapshot > COMPACT_AFTER_RECORDS:
        return True
    size_limit = max(COMPACT_GROWTH_FACTOR * stats.snapshot_bytes, COMPACT_MIN_LOG_BYTES)
    return stats.records_since_snapshot > 1 and stats.log_bytes > size_limit


class BadUpdateError(ValueError):
    """pycrdt refused the update at ``index`` of a sequence."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"update {index}: {reason}")
        self.index = index


def apply_in_chunks(doc: YDoc, updates: Sequence[bytes]) -> None:
    """Apply ``updates`` to ``doc`` in order, merged a few dozen at a time.

    One transaction per chunk instead of per update makes loading about four times
    faster. ``merge_updates`` is quadratic in the number of updates it merges, so the
    chunks stay small and the whole stays linear. Raises ValueError as
    ``apply_update`` does, as BadUpdateError naming the position of the bad update;
    the updates before it are applied.
    """
    for start in range(0, len(updates), MERGE_CHUNK_UPDATES):
        chunk = updates[start : start + MERGE_CHUNK_UPDATES]
        try:
            doc.apply_update(pycrdt.merge_updates(*chunk) if len(chunk) > 1 else chunk[0])
            continue
        except ValueError:
            pass  # find the bad one, keeping those before it
        for offset, update in enumerate(chunk):
            try:
                doc.apply_update(update)
            except ValueError as exc:
                raise BadUpdateError(start + offset, str(exc)) from exc


def replay(updates: Iterable[bytes]) -> YDoc:
    """Load ``updates`` in order into a new Doc with a fresh 32-bit client ID.

    Raises ValueError if pycrdt rejects an update.
    """
    doc: YDoc = pycrdt.Doc(client_id=new_client_id())
    apply_in_chunks(doc, list(updates))
    return doc


def build_snapshot(path: Path, prefix_end: int) -> bytes:
    """Return the full state of the records in ``path`` before byte ``prefix_end``.

    Reads the file without locking: the bytes before a known record boundary never
    change while the log is open (only compaction rewrites them, and it calls this
    first). Raises CorruptLogError if those bytes do not validate.
    """
    with path.open("rb") as f:
        data = f.read(prefix_end)
    scan = fmt.scan_log(data)
    if scan.stop is not None or scan.end != prefix_end:
        offset = scan.stop.offset if scan.stop else scan.end
        reason = scan.stop.reason if scan.stop else "prefix does not end on a record"
        raise CorruptLogError(path, offset, reason)
    try:
        doc = replay(u for record in scan.records for u in record.updates)
    except ValueError as exc:
        raise StorageError(path, f"an update in the log cannot be loaded: {exc}") from exc
    return doc.get_update()
