"""Many new docs stored as one group: the blocking steps of ``ShareService.create_docs``.

A first scan (a folder added as a share, or many files copied in) makes one new doc per
file. Taken one at a time, each doc's log was created on the event loop and its first
update stored by its own fdatasync and folder fsync, one after another. Here the logs
of a group are created in one worker-thread hop (``open_new_logs``), and their first
updates stored by one group commit (``store_first_updates``: every log fdatasynced,
several at once, then the docs folder fsynced once, ``storage.doclog.append_group``),
with each text doc's first version recorded in its file history as ``LogWriter`` does,
the timelines also as one group commit (``storage.fileops.grouped_folder_syncs``).
Nothing is acknowledged before all of it is durable.

A first scan keeps no doc per file: once a group is stored, each doc nothing touched
meanwhile leaves memory at once (``Unloader.unload_new``), its writer never started,
its log stat-ed in the same worker-thread hop as the commit (``Stored.stats``) and
closed in one more hop for the group (``close_logs``). What stays is its version and
its index record, as for a doc unloaded when idle; the mirror reads the doc it made
from ``made`` (``ShareService.doc``) instead of loading it again from its log.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

from p2psync.errors import StorageError
from p2psync.storage.doclog import GROUP_SYNC_THREADS, DocLog, OpenResult, append_group
from p2psync.storage.fileops import grouped_folder_syncs
from p2psync.storage.history import DocHistory, VersionNote, record_safely
from p2psync.storage.layout import log_path
from p2psync.storage.writer import LogWriter

log = logging.getLogger(__name__)


@dataclass
class NewDoc:
    """One doc of a group: its writer (not running yet: the group is stored first), the
    updates its creation produced and what its history calls them (None: keeps none),
    and the share's change sequence of the doc once made."""

    guid: str
    writer: LogWriter
    updates: list[bytes]
    note: VersionNote | None
    sequence: int


class LogStat(NamedTuple):
    """A log's size and mtime, as the persisted index records them."""

    size: int
    mtime_ns: int


@dataclass
class Stored:
    """What storing a group did: the guids whose updates could not be stored (none of
    theirs is), with why; and each stored log's stat once durable (none if the stat
    failed: that doc stays loaded)."""

    failed: dict[str, StorageError]
    stats: dict[str, LogStat]


def open_new_logs(root: Path, guids: Sequence[str]) -> list[OpenResult]:
    """Open (creating) the logs of ``guids`` in share ``root``: a few system calls each
    and no fsync (a log's name is made durable by its first append). Blocking. On an
    error the logs opened so far are closed and it is raised."""
    opened: list[OpenResult] = []
    try:
        for guid in guids:
            path = log_path(root, guid)
            path.parent.mkdir(exist_ok=True)  # in .p2psync, which the mirror checked is there
            opened.append(DocLog.open(path))
    except BaseException:
        for done in opened:
            done.log.close()
        raise
    return opened


def store_first_updates(docs: Sequence[NewDoc]) -> Stored:
    """Store each doc's updates in its log as one group commit, then record the text
    docs' first versions in their histories, then stat the stored logs. Blocking: run it
    in a worker thread, before the docs' writers start (a log is driven by one thread
    at a time)."""
    results = append_group([(doc.writer.log, doc.updates) for doc in docs])
    failed: dict[str, StorageError] = {}
    records: list[Callable[[], None]] = []
    for doc, error in zip(docs, results, strict=True):
        if error is not None:
            failed[doc.guid] = error
            continue
        history, note, doclog = doc.writer.history, doc.note, doc.writer.log
        if history is not None and note is not None and doc.updates:
            start = doclog.update_count - len(doc.updates)
            step = partial(_record, doc.writer, history, note, start)
            records.append(partial(record_safely, history, step))
    _record_all(records)
    stats: dict[str, LogStat] = {}
    for doc in docs:
        if doc.guid not in failed:
            try:
                st = doc.writer.log.path.stat()
            except OSError:
                continue
            stats[doc.guid] = LogStat(st.st_size, st.st_mtime_ns)
    return Stored(failed, stats)


def close_logs(logs: Sequence[DocLog]) -> None:
    """Close ``logs`` (their appends are durable already). Blocking: a close of a file
    just written costs the filesystem some work (a fifth of a millisecond each here),
    too much for the event loop at thousands of files."""
    for doclog in logs:
        doclog.close()


def _record_all(records: Sequence[Callable[[], None]]) -> None:
    """Write the group's timelines as one group commit: each a new doc's first, created
    in place and fsynced (``save_timeline``), several at once as the logs' fdatasyncs
    so that they share journal commits, then their folder fsynced once for all of them
    (``grouped_folder_syncs``) before this returns. A timeline not written loses no
    text (``record_safely``)."""
    try:
        with grouped_folder_syncs(), ThreadPoolExecutor(max_workers=GROUP_SYNC_THREADS) as pool:
            steps = [pool.submit(contextvars.copy_context().run, step) for step in records]
            for step in steps:
                step.result()
    except OSError as exc:
        log.error("file history of %d new docs not made durable: %s", len(records), exc)


def _record(writer: LogWriter, history: DocHistory, note: VersionNote, start: int) -> None:
    """Note the version whose updates are the log's from ``start`` on, as
    ``LogWriter`` records a group's notes, and write the timeline (a new doc's: no
    coalescing to defer it). If that fails the writer saves it again when it closes."""
    writer.history_unsaved = True
    history.note(note, start, writer.log.update_count, writer.log)
    history.save()
    writer.history_unsaved = False
