"""The file <-> doc engine of one share folder (docs/mirror.md).

A ``Mirror`` keeps the files of a share folder and the share's docs equal. It is
driven by its owner (``p2psync.daemon.mirror``), one call at a time:

- ``local_changes(paths)``: the watcher (or a rescan) says these files may have
  changed. Each is reconciled with its doc: a save becomes Y.Text edits, a new file an
  entry and a doc, a vanished file a deletion, a file that appears with the inode of
  one that vanished a rename.
- ``remote_changed(guids)``: peers (or ``doc apply``, or another process appending to
  a log) changed these docs. The manifest is re-read (renames, deletes, new files,
  collisions) and each changed file is written back, after re-reading it: a save that
  happened since the last sync is merged into the doc first, never overwritten.

``reconcile(path)`` is the one decision for a path, whoever asked. What was last
synced per path (``mirror.state``: a durable record of the doc, the bytes' digest and
the merge base, written ahead of each write and save) tells a local save from the
daemon's own write (same digest: no echo), also after a crash, and gives the base a
local save is merged against when the doc changed since (a scratch doc at that state
takes the save's edits, and the resulting delta is applied to the live doc, exactly
as if a peer had made them).

A doc is never seeded from a file whose doc already has CRDT state: a file meets an
existing doc only through a diff (``textdiff``), so a restart, a re-added folder or a
second machine with the same files never doubles text.

``Mirror`` is a façade: it runs the batches and ``reconcile`` (the decision is
``classify``) and hands each job to one part: ``ledger`` (the sync records),
``keeper`` (the manifest), ``saves`` (file <-> doc content), ``chunkpaths`` (chunked
files), ``renames``, ``collisions``, ``creates`` (a file with no doc to follow) and
``newfiles`` (new files as groups); ``problems`` lists what keeps files apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from p2psync.errors import UnsafePathError
from p2psync.mirror.chunkfile import ChunkedFiles, Chunking
from p2psync.mirror.chunkpaths import ChunkPaths
from p2psync.mirror.classify import TRUNCATION_HOLD_S, Action, classify
from p2psync.mirror.collisions import Collisions
from p2psync.mirror.conflicts import keep_copy
from p2psync.mirror.content import (
    doc_bytes,
    merge_save,
    short_device,
)
from p2psync.mirror.creates import Creates
from p2psync.mirror.fileio import (
    FileStat,
    NotAFileError,
    read_file,
)
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.ignore import IGNORE_FILE, IgnoreRules
from p2psync.mirror.keeper import ManifestKeeper
from p2psync.mirror.kinds import FileKind, decode_text
from p2psync.mirror.ledger import Ledger
from p2psync.mirror.manifest import MANIFEST_GUID, Entry, ManifestView, set_fields
from p2psync.mirror.names import Listings, NameRules
from p2psync.mirror.newfiles import NewFiles
from p2psync.mirror.newwrites import NewWrites
from p2psync.mirror.paths import is_share_path
from p2psync.mirror.problems import Problems
from p2psync.mirror.records import Synced
from p2psync.mirror.renames import VANISHED_HOLD_S, Renames
from p2psync.mirror.saves import Saves
from p2psync.mirror.scan import walk_share
from p2psync.mirror.store import DocStore, Peer, Publish
from p2psync.mirror.viewcache import view_file
from p2psync.replica.doc import DocReplica

__all__ = [
    "HOLD_CHECK_INTERVAL_S",
    "TRUNCATION_HOLD_S",
    "VANISHED_HOLD_S",
    "DocStore",
    "Mirror",
    "Peer",
    "merge_save",
    "wall_ms",
]

log = logging.getLogger(__name__)

HOLD_CHECK_INTERVAL_S = 1.0
"""How often the mirror's owner calls ``flush`` while ``files_held``."""


@dataclass
class Mirror:
    """Keeps the files under ``root`` equal to the share's docs (see the module doc)."""

    root: Path
    store: DocStore
    clock: HybridClock
    publish: Publish
    share: str = ""
    names: NameRules = field(default_factory=NameRules)
    """How the folder's filesystem compares names (``names.probe_names``; set before
    the first batch): on a case-insensitive one, paths the manifest keeps apart may
    be one file here."""
    chunking: Chunking = field(default_factory=Chunking)
    """When a new text file is a chunked doc (``mirror.chunkfile``)."""

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.root, self.store, share=self.share, view=lambda: self.view,
                             doc_bytes=self.doc_bytes, on_ignore=self._set_ignore)  # fmt: skip
        self.synced = self.ledger.synced
        """The durable sync record of each path (``mirror.state``)."""
        self.chunks = ChunkedFiles(self.store, self.chunking, self.ledger.stored_layout)
        self.chunkpaths = ChunkPaths(self)
        self.patching = self.chunkpaths.patching
        """Chunked files whose in-place patch may have stopped midway (``mirror.patch``)."""
        self.ignore = IgnoreRules.parse("")
        self._ignore_text = ""
        self.problems = Problems(self.share, self.publish)
        """What keeps files from being in sync now (``mirror.problems``)."""
        self.keeper = ManifestKeeper(
            self.store,
            self.clock,
            self.chunks,
            self.problems,
            names=lambda: self.names,
            ignore=lambda: self.ignore,
            view_file=view_file(self.root),
        )
        self.saves = Saves(self, self.chunkpaths)
        self.renames = Renames(self, self.saves)
        self.collisions = Collisions(self, self.saves)
        self.creates = Creates(self, self.saves, self.renames, self.chunkpaths)
        self.newfiles = NewFiles(self)
        self.newwrites = NewWrites(self)
        self.retry: set[str] = set()
        """Paths to reconcile again with the next batch (saved while being written)."""
        self._scanned = False
        """Whether a rescan ran: the first one reads every file whose doc is not at the
        version its record names, whatever its stat (a doc may have changed after its
        file was last written: appends made while the daemon was down, updates stored
        just before a crash)."""
        self.listings: Listings = {}
        self._emptied: dict[str, float] = {}
        """Synced files found just emptied -> when (``trio.current_time``) to look again."""

    @property
    def view(self) -> ManifestView:
        """The manifest as last read (``ManifestKeeper.view``)."""
        return self.keeper.view

    # -- entry points ------------------------------------------------------------

    async def rescan(self, also: Collection[str] = ()) -> None:
        """Compare the whole folder with what was last synced (start-up, and
        periodically: catches whatever the watcher missed), and look at the paths
        ``also`` (the watcher's) whatever their stat says."""
        await self.ledger.restore_promoted()
        self.listings.clear()
        await self._reload_ignore()
        found, skipped = await trio.to_thread.run_sync(walk_share, self.root, self.ignore)
        for rel, reason in skipped:
            self.report(f"walk:{rel}", "file-skipped", path=rel, reason=reason)
        self.problems.settle("walk:", {rel for rel, _ in skipped})
        await self.refresh_manifest()
        if self.names.folds:
            found = dict(zip(self._spelled(list(found)), found.values(), strict=True))
        changed = [
            rel
            for rel, st in found.items()
            if self.ledger.stat_changed(rel, st)
            or not (self._scanned or self.ledger.doc_as_synced(rel))
        ]
        self._scanned = True
        gone = [rel for rel in self.synced if rel not in found]
        await self.local_changes({*changed, *gone, *also})
        for rel in list(self.synced.unconfirmed):  # paired with nothing: never written?
            self.synced.drop_unconfirmed(rel)
            await self.reconcile(rel)

    def read_manifest(self) -> None:
        """Read the manifest as stored, doing nothing on disk (before the first
        ``rescan``: its owner compares the view before and after it)."""
        self.keeper.reread()

    async def local_changes(self, rels: Collection[str]) -> None:
        """Files at these share paths may have changed on disk."""
        await self.ledger.restore_promoted()
        if IGNORE_FILE in rels:
            await self._reload_ignore()
        if self.names.folds:
            rels = self._spelled(list(rels))
        rels = sorted(set(rels) | self.retry)
        self.retry.clear()
        self.listings.clear()
        self.ledger.forget_inodes()
        present = [rel for rel in rels if self.exists_as(rel)]
        self.renames.vanished({rel: self.synced.get(rel) for rel in set(rels) - set(present)})
        # Renames here first: one record moved each, done before a kill can cut the
        # batch short (saves to merge, new docs to store) and the file be saved under
        # a new inode before the next one. Then existing files: a file that moved is
        # seen at its new path before the old one is read as deleted. New files are
        # taken in as groups (``newfiles``).
        new = [rel for rel in present if self.newfiles.is_new(rel)]
        moved = await self.renames.by_inode(new)
        for rel in moved:
            await self.reconcile(rel)
        taken, here = set(moved), set(present)
        known = [rel for rel in present if rel not in taken and not self.newfiles.is_new(rel)]
        settled = await self._settled(known)
        for rel in known:
            if not settled(rel):
                await self.reconcile(rel)
        await self.newfiles.take([rel for rel in new if rel not in taken])
        for rel in rels:
            if rel not in here:  # a set: a first scan's batch has every file
                await self.reconcile(rel)
        await self.keeper.edit()

    async def remote_changed(self, changes: dict[str, Peer | None]) -> None:
        """Docs ``changes`` (guid -> the peer it came from, None if local) changed.

        The manifest is re-read only when it changed, or when a doc named by a share
        path may need adopting: a random-guid doc that arrives before its entry is
        written when the manifest change bringing the entry arrives."""
        await self.ledger.restore_promoted()
        self.listings.clear()
        stored = list(changes)
        changes = self.keeper.chunks_to_roots(changes)
        unknown = [g for g in changes if g not in self.view.by_guid and g != MANIFEST_GUID]
        revived = any(
            (e := self.view.by_guid.get(g)) is not None and e.deleted for g in changes
        )  # an edit may bring a deleted file back
        # One wait for the whole batch, the manifest's included before it is read: a
        # file its new entry names is written only once that entry is durable (else a
        # crash could leave the file with no entry, taken in again as a new file).
        async with trio.open_nursery() as nursery:
            for guid in set(stored) | set(changes):
                nursery.start_soon(self.store.durable, guid)
        pairs = [*self.view.shadowed, *self.view.twins]
        settling = {e.guid for pair in pairs for e in pair}  # ``collisions``
        if (
            MANIFEST_GUID in changes
            or revived
            or any(map(is_share_path, unknown))
            or not settling.isdisjoint(changes)
        ):
            await self.refresh_manifest()
        hidden = {entry.guid: winner for entry, winner in self.view.hidden}
        live = [e.path for g in changes if (e := self.view.by_guid.get(g)) is not None]
        settled = await self._settled(live)  # written already (``newwrites``): no load
        written = await self._write_new_files(changes, settled)
        for guid, peer in changes.items():
            entry = self.view.by_guid.get(guid)
            if entry is None or guid == MANIFEST_GUID or entry.deleted:
                continue
            if self.view.by_path.get(entry.path) is entry:
                if entry.path not in written and not settled(entry.path):
                    await self.reconcile(entry.path, peer)
            elif guid in hidden:
                await self.collisions.keep_hidden(entry, hidden[guid])

    async def _write_new_files(
        self, guids: Collection[str], settled: Callable[[str], bool]
    ) -> set[str]:
        """Write the files of ``guids`` new here as groups (``newwrites``): a first
        sync's docs arrive after the manifest that names them, a window at a time,
        and one by one they took the one-file path (each write and record on its
        own). The paths written; the rest are left to ``reconcile``."""
        plain = sorted(
            entry.path
            for guid in guids
            if (entry := self.view.by_guid.get(guid)) is not None
            and not entry.deleted
            and self.view.by_path.get(entry.path) is entry
            and not settled(entry.path)
            and self.newwrites.is_plain(entry.path, entry)
        )
        if not plain:
            return set()
        await self.newwrites.write(plain)
        return {rel for rel in plain if rel in self.synced}

    async def flush(self, started: float | None = None) -> None:
        """Tell the deletions held past ``VANISHED_HOLD_S``, store held-back manifest
        entries and the sync state (end of a batch).

        ``started``: when the batch began (``trio.current_time``; None: now). A file
        is told deleted only by a batch that began after its hold ran out: that batch
        took every path the watcher reported before then, so the other end of a
        rename made before the hold ran out was paired first. (Timed from the end of
        the batch, a first rescan slower than the hold, under load, told a renamed
        file deleted while the watcher still held the rename, and the file's new path
        became a second doc.)"""
        now = trio.current_time()
        since = now if started is None else started
        self.listings.clear()
        self.saves.recent.expire(now)
        for rel in [rel for rel, (due, _) in self.renames.held.items() if due <= since]:
            await self.reconcile(rel)  # still gone: a delete; back, or renamed: no more
            self.renames.held.pop(rel, None)
        for rel in [rel for rel, due in self._emptied.items() if due <= now]:
            del self._emptied[rel]
            await self.reconcile(rel)
        for rel in self.saves.ydocs.due(now):  # app docs' writes held back
            await self.reconcile(rel)
        await self.keeper.edit()

    @property
    def files_held(self) -> bool:
        """Whether a vanished file waits to be told as deleted, or an emptied one to be
        read (by a later ``flush``). An app doc's write held back has a timer of its
        own (``saves.ydocs.deferred``)."""
        return bool(self.renames.held or self._emptied)

    # -- the manifest --------------------------------------------------------------

    async def refresh_manifest(self) -> None:
        """Re-read the manifest if it changed and carry out what changed in it on disk."""
        kinds = {guid: entry.kind for guid, entry in self.view.by_guid.items()}
        await self.keeper.edit()
        self.keeper.refresh()
        await self.keeper.adopt_path_named_docs()
        for rel in list(self.chunkpaths.patching):  # a torn file must not pass for a save below
            await self.chunkpaths.recover_patch(rel)
        for entry, reason in self.view.unsafe:
            self.report(f"unsafe:{entry.path!r}", "unsafe-path",
                        path=repr(entry.path), reason=reason)  # fmt: skip
        self.problems.settle("unsafe:", {repr(entry.path) for entry, _ in self.view.unsafe})
        await self.keeper.revive_edited()
        await self.collisions.resolve()
        await self.collisions.settle_twins()
        await self.collisions.settle_hidden()
        for rel, was in sorted(self.synced.items()):
            known = self.view.by_guid.get(was.guid)
            if known is None or await self._deleted_there(rel, known, was):
                continue
            if known.path != rel and self.view.by_path.get(known.path) is known:
                await self.renames.remote_rename(rel, known, was)
        plain = [
            rel for rel, live in self.view.by_path.items() if self.newwrites.is_plain(rel, live)
        ]
        await self.newwrites.write(sorted(plain))
        for rel, live in sorted(self.view.by_path.items()):  # the files left, one at a time
            held = self.synced.get(rel)
            recast = kinds.get(live.guid, live.kind) is not live.kind  # a text outgrew one doc
            new = held is None or held.guid != live.guid or recast
            if new and self.store.doc(live.guid) and not self.renames.renaming(live):
                await self.reconcile(rel)

    async def _follow(self, rel: str, got: tuple[bytes, FileStat], synced: Synced) -> bool:
        """A file whose record names an entry no longer at its path, looked at before
        the manifest change that moved it was carried out here (``refresh_manifest``
        does it the same way): a peer's deletion (the file removed, or kept and the
        entry live again if saved here since), a collision lost, or a rename (a save
        made here first). False if the record names no entry a peer changed so: the
        file is taken in as new. Taken in as new, a file a peer deleted was a second
        doc of the same text."""
        known = self.view.by_guid.get(synced.guid)
        if known is not None and await self._deleted_there(rel, known, synced):
            return True
        return await self.renames.saved_then_renamed(rel, got, synced)

    async def _deleted_there(self, rel: str, known: Entry, synced: Synced) -> bool:
        """Carry out at ``rel`` the deletion of ``known``, the entry its record
        names, if it is deleted: a collision lost, or a peer's deletion (the file
        removed, or kept if saved here since). False if it is live."""
        if known.deleted and known.superseded_by:
            await self.collisions.superseded(rel, known, synced)
        elif known.deleted:
            await self.renames.remote_delete(rel, known, synced)
        return known.deleted

    def doc_bytes(self, entry: Entry, doc: DocReplica | None) -> bytes | None:
        """The bytes ``entry``'s file is to hold by its doc (``content.doc_bytes``)."""
        return doc_bytes(entry, doc, self.chunks)

    async def _settled(self, rels: Collection[str]) -> Callable[[str], bool]:
        """What tells which paths of ``rels`` a batch need not reconcile: file and doc
        as their record says (``Ledger.as_recorded``: one thread hop for all, no doc
        loaded), nothing held, patched or reported at the path, and all of it still
        so when the path's turn comes (a path reconciled before it may have changed
        its record or its doc)."""
        checked = await self.ledger.as_recorded([
            rel for rel in rels
            if rel not in self.renames.held and rel not in self.chunkpaths.patching
            and not self.problems.has(rel) and not self.ignore.ignored(rel, False)
        ])  # fmt: skip

        def settled(rel: str) -> bool:
            record = checked.get(rel)
            return (
                record is not None
                and self.synced.get(rel) == record
                and self.ledger.doc_as_synced(rel)
            )

        return settled

    # -- one path ----------------------------------------------------------------

    async def reconcile(self, rel: str, peer: Peer | None = None) -> None:
        """Make the file at ``rel`` and its doc equal (see the module doc); what keeps
        them apart now is listed in ``problems``."""
        with self.problems.checking(rel):
            await self._reconcile(rel, peer)

    async def _reconcile(self, rel: str, peer: Peer | None) -> None:
        if self.ignore.ignored(rel, False):
            return
        chunked = self.view.by_path.get(rel)
        if chunked is not None and chunked.kind is not FileKind.CHUNKED:
            chunked = None
        if chunked is not None and await self.chunkpaths.list_lost(rel, chunked.guid):
            return  # its root lost its chunk list: neither written nor read (chunklist)
        if rel in self.chunkpaths.patching and not await self.chunkpaths.recover_patch(rel):
            return
        if chunked is not None and (
            await self.chunkpaths.stream_chunked(rel, chunked)
            or await self.chunkpaths.scan_save(rel, chunked)
        ):
            return
        try:
            with self.problems.file_errors(f"read:{rel}", rel, but=(UnsafePathError,)) as failed:
                got = await trio.to_thread.run_sync(self.read_exact, rel)
        except (NotAFileError, UnsafePathError) as exc:
            reason = exc.reason if isinstance(exc, UnsafePathError) else str(exc)
            self.report(f"skip:{rel}", "file-skipped", path=rel, reason=reason)
            return
        if failed:
            return
        if got is not None:  # back (a save that replaced it): a later vanish holds anew
            self.renames.held.pop(rel, None)
        entry = self.view.by_path.get(rel)
        synced = self.synced.get(rel)
        if entry is not None and synced is not None and synced.guid != entry.guid:
            was = self.view.by_guid.get(synced.guid)
            if was is not None and was.deleted and was.superseded_by == entry.guid:  # lost it
                await self.collisions.superseded(rel, was, synced)
                return
        renaming = entry is not None and self.renames.renaming(entry)
        action = classify(entry, synced, got, renaming=renaming, now_ns=time.time_ns())
        await self._carry_out(action, rel, entry, synced, got, peer=peer)

    async def _carry_out(
        self,
        action: Action,
        rel: str,
        entry: Entry | None,
        synced: Synced | None,
        got: tuple[bytes, FileStat] | None,
        *,
        peer: Peer | None,
    ) -> None:
        """Do what ``classify`` decided for ``rel`` (its entry, record and file)."""
        if action is Action.NOTHING:
            return
        if action is Action.FORGET:
            if self.renames.holding(rel):  # its rename here may come in a later batch
                return
            log.debug("share %s: %s: gone, its record (%s) dropped", self.share, rel,
                      synced.guid if synced else None)  # fmt: skip
            self.synced.pop(rel)
            return
        if action is Action.WAIT:  # looked at again by a later ``flush``
            self._emptied.setdefault(rel, trio.current_time() + TRUNCATION_HOLD_S)
            return
        if action is Action.CREATE or action is Action.FOLLOW:
            assert got is not None
            if synced is None or not await self._follow(rel, got, synced):
                await self.creates.take(rel, got[0], got[1])
            return
        assert entry is not None
        if action is Action.DELETE:
            await self.renames.local_delete(rel, entry)
            return
        if action is Action.CHMOD:
            assert got is not None
            guid, executable = entry.guid, got[1].executable
            await self.keeper.edit(lambda d: set_fields(d, guid, exec=executable))
            entry = self.view.by_guid[guid]
        if action is Action.WRITE or action is Action.CHMOD:
            if got is None:
                await self.saves.write_doc(rel, entry, None, None, peer)
            else:
                await self.saves.write_doc(rel, entry, got[0], got[1], peer)
            return
        assert got is not None
        merged_with = synced if action is Action.SAVE else None
        await self.saves.local_save(rel, entry, got, merged_with, peer)

    # -- helpers -------------------------------------------------------------------

    def read_exact(self, rel: str) -> tuple[bytes, FileStat] | None:
        """``read_file``, but None where only another spelling of the name exists (on a
        case-insensitive filesystem, ``notes.md`` after it was renamed ``Notes.md``)."""
        got = read_file(self.root, rel)
        if got is not None and self.names.folds and not self.exists_as(rel):
            return None
        return got

    def exists_as(self, rel: str) -> bool:
        """``NameRules.exists_as`` with the folder listings of this batch: the mirror's
        own writes keep them true, its renames and removals drop them; a change by
        another program meanwhile is seen in the next batch."""
        return self.names.exists_as(self.root, rel, self.listings)

    def _spelled(self, rels: list[str]) -> list[str]:
        """Paths as the disk spells them, in the manifest's spelling of those files:
        on a case-insensitive filesystem a folder has the case of whoever made it
        first (``Docs/b.md`` on disk is the manifest's ``docs/b.md``). Paths the
        manifest or the sync state know as they are cost no map (a plain save)."""

        def known(rel: str) -> bool:
            return rel in self.synced or rel in self.view.by_path

        if all(map(known, rels)):
            return rels
        spelling = {self.names.spelling_key(rel): rel for rel in self.synced}
        spelling.update((self.names.spelling_key(rel), rel) for rel in self.view.by_path)
        return [rel if known(rel) else spelling.get(self.names.spelling_key(rel), rel)
                for rel in rels]  # fmt: skip

    async def _reload_ignore(self) -> None:
        try:
            got = await trio.to_thread.run_sync(read_file, self.root, IGNORE_FILE)
        except (OSError, NotAFileError):
            got = None
        self._set_ignore((decode_text(got[0]) if got is not None else "") or "")

    def _set_ignore(self, text: str) -> None:
        if text != self._ignore_text:
            self.keeper.ignore_changed()
            self._ignore_text = text
        self.ignore = IgnoreRules.parse(text)
        for problem in self.ignore.problems:
            self.report(f"ignore:{problem.line_number}:{problem.line}", "ignore-problem",
                        line=problem.line_number, reason=problem.reason)  # fmt: skip

    async def keep(self, rel: str, why: str, data: bytes, *, device: str = "") -> Path:
        """Keep ``data``, a version of ``rel`` that lost, as a copy under
        ``.p2psync/conflicts/`` (``mirror.conflicts``); ``device``: whose version it
        is (this device's by default)."""
        who = device or short_device(self.clock.device)
        return await trio.to_thread.run_sync(
            lambda: keep_copy(self.root, rel, why, data, device=who)
        )

    def report(self, key: str, type_: str, **fields: Any) -> None:
        self.problems.report(key, type_, **fields)


def wall_ms() -> int:
    """The wall clock in milliseconds, for the mirror's hybrid clock."""
    return time.time_ns() // 1_000_000
