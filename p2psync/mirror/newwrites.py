"""Files new here from peers, written as groups: the receiving end of a first sync.

A first sync (or a peer's folder of new files) brings many entries whose files this
folder does not have. One at a time (``Mirror.reconcile``), each cost a worker-thread
hop to find it absent and one to write it (its bytes fdatasynced, its record written
ahead and fdatasynced, the rename), then its record committed by a rename on the event
loop: a few hundred files a second, one fdatasync after another. ``NewWrites`` takes
the plain ones, ``GROUP_FILES`` at a time: a text or binary file whose path has no sync
record and whose doc is loaded and holds its content. Their content is read from their
docs on the event loop; then one worker-thread hop writes each as the one-file path
does (``fileio.write_file``, its record written ahead, ``SyncTable.write_ahead_file``,
then committed, ``state.commit_ahead``), ``GROUP_SYNC_THREADS`` files at once so that
their fdatasyncs share the filesystem's journal commits; the table takes the records
back on the event loop.

Each file is as durable, at each step, as on the one-file path: a crash leaves it
absent, or written with its record ahead (which the next start keeps, the file showing
the write happened), or written and recorded. A file found at its path meanwhile (a
program wrote one), or one that cannot be written, is left to the one-file path, which
merges it or reports why; so is every path on a filesystem that folds names (two paths
of the manifest may be one file there: ``Collisions`` decides, one path at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Protocol

import trio

from p2psync.errors import P2PSyncError
from p2psync.mirror import binary
from p2psync.mirror.chunkpaths import ChunkPaths
from p2psync.mirror.content import CONTENT
from p2psync.mirror.fileio import FileStat, write_file
from p2psync.mirror.host import Host
from p2psync.mirror.ignore import IGNORE_FILE, IgnoreRules
from p2psync.mirror.kinds import FileKind, file_digest
from p2psync.mirror.manifest import Entry
from p2psync.mirror.records import Synced, version_key
from p2psync.mirror.renames import Renames
from p2psync.mirror.saves import Saves
from p2psync.mirror.state import SyncTable, commit_ahead
from p2psync.storage.doclog import GROUP_SYNC_THREADS

log = logging.getLogger(__name__)

GROUP_FILES = 256
"""How many new files one worker-thread hop writes."""


class NewWritesHost(Host, Protocol):
    """What ``NewWrites`` needs of the ``Mirror``: ``Host``, and the parts that say
    whether a path is plain."""

    saves: Saves
    renames: Renames
    chunkpaths: ChunkPaths
    ignore: IgnoreRules


class _Write(NamedTuple):
    """A file to write: where, its bytes, its mode, and its record (stat not known)."""

    rel: str
    content: bytes
    executable: bool
    synced: Synced
    base: bytes


class NewWrites:
    """Writes the plain new files of a manifest change as groups (see the module doc)."""

    def __init__(self, mirror: NewWritesHost) -> None:
        self.m = mirror

    def is_plain(self, rel: str, entry: Entry) -> bool:
        """Whether the file of live entry ``entry`` at ``rel`` may be written with a
        group: a text or binary file, no record at its path, not being renamed here,
        not ignored, on a filesystem that does not fold names."""
        m = self.m
        return (
            entry.kind in (FileKind.TEXT, FileKind.BINARY)
            and rel != IGNORE_FILE
            and rel not in m.synced
            and rel not in m.chunkpaths.patching
            and not m.names.folds
            and not m.renames.renaming(entry)
            and not m.ignore.ignored(rel, False)
        )

    async def write(self, rels: Sequence[str]) -> None:
        """Write the files of ``rels`` (each ``is_plain``) as groups. Those it leaves
        keep no record, for the one-file path to take: a doc not loaded, or not
        holding one content yet (a binary file whose versions conflict), a file
        there already, an error."""
        for start in range(0, len(rels), GROUP_FILES):
            await self._group(rels[start : start + GROUP_FILES])

    async def _group(self, rels: Sequence[str]) -> None:
        m = self.m
        writes: list[_Write] = []
        for rel in rels:
            entry = m.view.by_path.get(rel)
            if entry is None or not self.is_plain(rel, entry):
                continue  # changed while the docs before it became durable
            await m.store.durable(entry.guid)  # no file before its doc is durable
            write = self._write_of(rel, entry)
            if write is not None:
                writes.append(write)
        done = await trio.to_thread.run_sync(_write_all, m.root, m.synced, writes)
        records = []
        now = trio.current_time()
        for write, stat in zip(writes, done, strict=True):
            if stat is None:
                continue
            m.names.listed(m.listings, write.rel, present=True)
            if write.base:  # a text file's
                m.saves.recent.wrote(write.rel, b"", write.content, now)
            records.append((write.rel, write.synced._replace(stat=stat), write.base))
            with m.problems.checking(write.rel):
                pass  # what kept it apart before is gone
        m.synced.adopt_new(records)
        m.store.written([synced.guid for _, synced, _ in records])  # they may leave memory
        log.debug("share %s: %d of %d new files written as a group", m.share, len(records),
                  len(rels))  # fmt: skip

    def _write_of(self, rel: str, entry: Entry) -> _Write | None:
        """What writing ``entry``'s file at ``rel`` takes, as ``Saves.write_doc`` has
        it; None if its doc is not there or holds no one plain content."""
        doc = self.m.store.doc(entry.guid)
        if doc is None:
            return None
        if entry.kind is FileKind.BINARY:
            if binary.losers(doc.ydoc):  # versions to keep aside first: one at a time
                return None
            current = binary.current(doc.ydoc)
            if current is None:
                return None
            content, base = current.data, b""
        else:
            content = doc.text(CONTENT).encode()
            base = doc.full_state()
        synced = Synced(entry.guid, file_digest(content), None, version_key(doc.version()))
        return _Write(rel, content, entry.exec, synced, base)


def _write_all(root: Path, table: SyncTable, writes: Sequence[_Write]) -> list[FileStat | None]:
    """Write each file of ``writes`` under ``root`` as ``_write_one``, several at once;
    each one's stat as written, None where it was not (left to the one-file path)."""
    if not writes:
        return []
    with ThreadPoolExecutor(max_workers=min(GROUP_SYNC_THREADS, len(writes))) as pool:
        return list(pool.map(lambda w: _write_one(root, table, w), writes))


def _write_one(root: Path, table: SyncTable, write: _Write) -> FileStat | None:
    """Write one new file, its record written ahead once its bytes are durable and
    committed once it is in place; None (nothing left behind) if a file is there or
    the write failed."""
    ahead: list[Path] = []

    def prepare(stat: FileStat) -> None:
        ahead.append(
            table.write_ahead_file(write.rel, write.synced._replace(stat=stat), write.base)
        )

    try:
        stat = write_file(root, write.rel, write.content, executable=write.executable,
                          expect=None, prepared=prepare)  # fmt: skip
        commit_ahead(ahead[0])
    except (OSError, P2PSyncError):
        for path in ahead:
            path.unlink(missing_ok=True)  # the write did not happen
        return None
    return stat
