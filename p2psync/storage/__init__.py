"""Durable document logs (the normative spec is docs/storage.md).

The stable Python API, for the daemon and for any local application that wants to
edit a document by appending to its log:

- :func:`append_update` — durably append one Yjs v1 update (locks, repairs a torn tail
  left by a crashed writer, writes, ``fdatasync``).
- :func:`read_updates` / :func:`read_state` — read a log without changing it: every
  update in order, or the document's current state as one Yjs v1 update.
- :class:`DocLog` — an open log for long-lived users (the daemon): recovery on open,
  grouped appends, reading other processes' appends, compaction commits.
- ``p2psync.storage.writer.LogWriter`` — the Trio task that owns a DocLog: group
  commit, compaction off the event loop (imported from its module, so that programs
  that only append do not load Trio).

Modules:

- ``format``: the log format: records, checksums; pure encoding and decoding.
- ``doclog``: one doc's log file: durable appends, group commit, others' appends.
- ``logrepair``: opening a log under its lock; a torn tail cut, a corrupt log quarantined.
- ``fileops``: the few system calls the log layer makes, behind one seam.
- ``writer``: ``LogWriter``, the one Trio task writing a log, with group commit.
- ``compaction``: when a log is worth rewriting, and building its snapshot.
- ``snapshotter``, ``snapshot_worker``: large snapshots built in a subprocess.
- ``indexstore``: the durable file of a share's persisted index.
- ``layout``: where a share keeps its logs, and how a doc guid names its log.
- ``folderlock``: one daemon per share folder, the lock a running share holds.
- ``quarantine``: updates that crashed the CRDT engine, kept aside, never applied.
- ``history``: a doc's timeline kept up to date by the writer of its log.
- ``timeline``: versions, their metadata, saves coalesced by time.
- ``retention``: which versions the staggered policy keeps.
- ``versionindex``: the durable timeline file beside a log.
- ``versionstate``: a version's text rebuilt, kept rebuildable across compaction.
- ``historystates``: kept versions' states stored as a chain, each what the doc gained.
- ``binarybudget``: the share's ``max_bytes`` over its binary files' past versions together.
- ``versionedit``: the edit back to a past version, from the doc's structure.
- ``versiontexts``: the whole texts of versions no log holds (chunked files').
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from p2psync.errors import CorruptLogError, StorageError, UnsupportedLogError
from p2psync.storage import format as fmt
from p2psync.storage.compaction import replay, should_compact
from p2psync.storage.doclog import DocLog, LogStats, OpenResult
from p2psync.storage.logrepair import Recovery

__all__ = [
    "DocLog",
    "LogStats",
    "OpenResult",
    "Recovery",
    "append_update",
    "read_state",
    "read_updates",
    "should_compact",
]


def append_update(path: Path, update: bytes) -> None:
    """Durably append one Yjs v1 update to the log at ``path``, creating it if needed.

    Safe while the daemon and other processes use the same log. Raises StorageError
    (or a subclass) if the log cannot be opened, is damaged, or the write fails.
    """
    with DocLog.open(path).log as doclog:
        doclog.append([update])


def read_updates(path: Path) -> list[bytes]:
    """Return every update stored in the log at ``path``, without changing the file.

    An interrupted append at the end is ignored. Raises CorruptLogError (with the
    offset) if the log is damaged, UnsupportedLogError for a newer format, and
    FileNotFoundError if there is no log.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0)
    except OSError as exc:
        raise StorageError(path, f"cannot read log: {exc.strerror}") from exc
    finally:
        os.close(fd)
    scan = fmt.scan_log(data)
    stop = scan.stop
    if stop is not None and stop.damage is fmt.Damage.CORRUPT:
        raise CorruptLogError(path, stop.offset, stop.reason)
    if stop is not None and stop.damage is fmt.Damage.UNSUPPORTED:
        raise UnsupportedLogError(path, f"at offset {stop.offset}: {stop.reason}")
    return [u for record in scan.records for u in record.updates]


def read_state(path: Path) -> bytes:
    """Return the document stored at ``path`` as one Yjs v1 update (its full state).

    Raises what :func:`read_updates` raises, and StorageError if an update in the log
    cannot be loaded.
    """
    updates = read_updates(path)
    try:
        return replay(updates).get_update()
    except ValueError as exc:
        raise StorageError(path, f"an update in the log cannot be loaded: {exc}") from exc
