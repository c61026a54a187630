"""New files taken in as groups: a first scan, or many files copied in at once.

A file the share has never seen (no entry, no sync record) becomes a new doc. One at a
time, each cost a worker-thread hop to read it, its log created, its first update
stored by its own fdatasync and folder fsync, and its sync record written, one file
after another. ``NewFiles`` reads a group of up to ``GROUP_FILES`` such files in one
hop, makes their docs in memory, has the share store them as one group commit
(``DocStore.create_docs``), and only then stores their entries (one manifest change)
and then writes their sync records (in one hop), written ahead of the entries. As one
at a time, no record is the table's before its doc and its entry are durable: a crash
at any point leaves each file either taken in or new again (a crash between the docs
and the entries leaves docs no entry names, which hold only what the files hold, and
records written ahead that name them: the file is taken in again). A crash between
the entries and the records leaves the records written ahead, so a file renamed
while the daemon is down is still known by its inode.

Groups overlap (``IN_FLIGHT``): the next group is read and its docs made on the event
loop while the worker threads wait on the fsyncs that make the group before it
durable. Each group's entries wait for those of the group before it, so the manifest
takes them in order, and the steps that read or change the manifest (a group's
entries and records, the one-file path) take turns (``_keeping``).

Whatever is not a plain new file takes the one-file path (``Mirror.reconcile``): a
file that cannot be read, a file renamed here (its inode or text pairs it with one
that vanished), one coming back where a deleted entry was, a large text (a chunked
doc), the ignore file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import trio

from p2psync.errors import P2PSyncError
from p2psync.mirror import binary
from p2psync.mirror.chunkpaths import ChunkPaths
from p2psync.mirror.classify import Action, classify
from p2psync.mirror.content import content_of, seed
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.host import Host
from p2psync.mirror.ignore import IGNORE_FILE, IgnoreRules
from p2psync.mirror.kinds import decode_text, file_kind
from p2psync.mirror.manifest import Entry, new_file_guid
from p2psync.mirror.renames import Renames
from p2psync.mirror.store import YDoc
from p2psync.mirror.ydocfile import is_ydoc_path


class NewFilesHost(Host, Protocol):
    """What ``NewFiles`` needs of the ``Mirror``: ``Host``, and the parts a file that
    is not plain new after all goes to."""

    renames: Renames
    chunkpaths: ChunkPaths
    ignore: IgnoreRules


log = logging.getLogger(__name__)

GROUP_FILES = 256
"""How many new files are read, stored and recorded together."""
IN_FLIGHT = 2
"""How many groups may be on their way to being durable at once."""


@dataclass
class _New:
    """A new file of a group and the doc it becomes."""

    rel: str
    data: bytes
    stat: FileStat
    entry: Entry
    edit: Callable[[YDoc], None]


class NewFiles:
    """Takes the new files of a batch in as groups (see the module doc)."""

    def __init__(self, mirror: NewFilesHost) -> None:
        self.m = mirror
        self._keeping = trio.Lock()
        """Held while the manifest is read or changed: a group's entries and records,
        and the one-file path, never interleave."""

    def is_new(self, rel: str) -> bool:
        """Whether ``rel`` is, as far as the batch knows without reading it, a file the
        share has never seen."""
        m = self.m
        return (
            rel != IGNORE_FILE
            and rel not in m.synced
            and rel not in m.view.by_path
            and rel not in m.chunkpaths.patching
            and not m.ignore.ignored(rel, False)
        )

    async def take(self, rels: Sequence[str]) -> None:
        """Take the files at ``rels`` (``is_new``) in, ``GROUP_FILES`` at a time, up
        to ``IN_FLIGHT`` groups at once. Raises what a group's storing raised, once
        the groups under way are done."""
        failures: list[Exception] = []
        slots = trio.Semaphore(IN_FLIGHT)
        before: trio.Event | None = None
        async with trio.open_nursery() as nursery:
            for start in range(0, len(rels), GROUP_FILES):
                await slots.acquire()
                if failures:
                    break
                try:
                    group = await self._group(rels[start : start + GROUP_FILES])
                except Exception as exc:  # raised as itself once the groups under way are done
                    failures.append(exc)
                    break
                done = trio.Event()
                nursery.start_soon(self._store_in_turn, group, before, done, slots, failures)
                before = done
        if failures:
            raise failures[0]

    async def _group(self, rels: Sequence[str]) -> list[_New]:
        """Read ``rels``; the plain new files among them, the others taken in one by
        one (``Mirror.reconcile``)."""
        m = self.m
        read = await trio.to_thread.run_sync(_read_quietly, m.read_exact, rels)
        group: list[_New] = []
        async with self._keeping:
            deleted = {entry.path for entry in m.view.by_guid.values() if entry.deleted}
            for rel in rels:
                got = read.get(rel)
                if got is None or rel in deleted or m.view.by_path.get(rel) is not None:
                    await m.reconcile(rel)  # unreadable, gone, not a file, or not new after all
                    continue
                with m.problems.checking(rel):
                    data, stat = got
                    action = classify(None, None, got, renaming=False, now_ns=time.time_ns())
                    plain = action is Action.CREATE and not m.chunks.is_large(data)
                    plain = plain and not is_ydoc_path(rel)  # checked and merged one by one
                    if plain and await m.renames.renamed_here(rel, data, stat):
                        continue
                if plain:
                    group.append(self._new(rel, data, stat))
                else:
                    await m.reconcile(rel)
        return group

    async def _store_in_turn(
        self,
        group: list[_New],
        before: trio.Event | None,
        done: trio.Event,
        slots: trio.Semaphore,
        failures: list[Exception],
    ) -> None:
        """``_store`` ``group``, its entries after those of the group ``before`` it;
        a failure is kept in ``failures`` (the groups after it then store no entries:
        their files are new again at the next rescan)."""
        try:
            await self._store(group, before, failures)
        except Exception as exc:  # raised by ``take`` once the groups under way are done
            failures.append(exc)
        finally:
            done.set()
            slots.release()

    def _new(self, rel: str, data: bytes, stat: FileStat) -> _New:
        """The entry and first edit of new file ``rel`` (as ``Mirror``'s one-file path)."""
        m = self.m
        entry = Entry(new_file_guid(), rel, file_kind(data), m.clock.tick(), exec=stat.executable)
        log.debug("share %s: %s is a new file, doc %s (no vanished file pairs with it)",
                  m.share, rel, entry.guid)  # fmt: skip
        text = decode_text(data)
        edit = _seeding(text) if text is not None else _putting(m.clock.tick(), data)
        return _New(rel, data, stat, entry, edit)

    async def _store(
        self, group: list[_New], before: trio.Event | None, failures: list[Exception]
    ) -> None:
        """Store the group's docs as one commit, then add their entries and records."""
        if not group:
            return
        m = self.m
        failed = await m.store.create_docs({new.entry.guid: new.edit for new in group})
        if before is not None:
            await before.wait()
        if failures:
            return
        async with self._keeping:
            records = []
            for new in group:
                if new.entry.guid in failed:
                    m.report(f"store:{new.rel}", "file-error", path=new.rel,
                             message=failed[new.entry.guid])  # fmt: skip
                    continue
                m.keeper.add_new(new.entry)
                records.append(m.ledger.new_record(new.rel, new.entry.guid, new.data, new.stat))
            # The records are written ahead of the entries (a crash between leaves
            # each entry's file known by its record), and are the table's once the
            # entries are durable.
            await m.ledger.write_ahead_new(records)
            await m.keeper.store_new()
            await m.ledger.record_new(records)


def _read_quietly(
    read: Callable[[str], tuple[bytes, FileStat] | None], rels: Sequence[str]
) -> dict[str, tuple[bytes, FileStat] | None]:
    """Each file read by ``read``; None for one that could not be (the one-file path
    then reads it again and reports why)."""
    got: dict[str, tuple[bytes, FileStat] | None] = {}
    for rel in rels:
        try:
            got[rel] = read(rel)
        except (OSError, P2PSyncError):
            got[rel] = None
    return got


def _seeding(text: str) -> Callable[[YDoc], None]:
    return lambda doc: seed(content_of(doc), text)


def _putting(stamp: Timestamp, data: bytes) -> Callable[[YDoc], None]:
    return lambda doc: binary.put(doc, stamp, data)
