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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from p2psync.errors import UnsafePathError
from p2psync.mirror import binary
from p2psync.mirror.chunkfile import ChunkedFiles, Chunking, Piece, decode_large_text
from p2psync.mirror.chunkscan import scan_save
from p2psync.mirror.conflicts import keep_copy
from p2psync.mirror.content import (
    CONTENT,
    content_of,
    doc_bytes,
    lines_of,
    merge_save,
    seed,
    short_device,
    state_vector,
    text_update,
)
from p2psync.mirror.fileio import (
    FileChangedError,
    FileStat,
    NotAFileError,
    local_stat,
    move_file,
    read_file,
    remove_file,
    set_executable,
    write_file,
)
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.ignore import IGNORE_FILE, IgnoreRules
from p2psync.mirror.keeper import ManifestKeeper
from p2psync.mirror.kinds import FileKind, decode_text, file_digest, file_kind
from p2psync.mirror.ledger import Ledger
from p2psync.mirror.manifest import MANIFEST_GUID, Entry, ManifestView, new_file_guid, set_fields
from p2psync.mirror.names import Listings, NameRules
from p2psync.mirror.overwrite import RecentWrites
from p2psync.mirror.patch import (
    DigestMarks,
    PatchRecord,
    Recovery,
    TornFileError,
    load_records,
    recovery,
    remove_record,
    write_chunked,
)
from p2psync.mirror.paths import is_share_path
from p2psync.mirror.problems import Problems
from p2psync.mirror.revival import deletion_fields
from p2psync.mirror.scan import walk_share
from p2psync.mirror.state import Synced, version_key
from p2psync.mirror.store import DocStore, Peer, Publish, YDoc
from p2psync.replica.doc import DocReplica

__all__ = ["HOLD_CHECK_INTERVAL_S", "DocStore", "Mirror", "Peer", "merge_save", "wall_ms"]

log = logging.getLogger(__name__)

HOLD_CHECK_INTERVAL_S = 1.0
"""How often the mirror's owner calls ``flush`` while ``deletes_held``."""
VANISHED_HOLD_S = 2.0
"""A synced file found gone is told as deleted only this long after a batch first
found it gone: the other end of a rename may come in a later batch (renamed while a
batch was running, or a move the watcher could not pair), and is then still a rename."""
TRUNCATION_HOLD_S = 1.0
"""A synced file found empty within this long of its last change is not read yet: a
program that truncates and then writes is mid-save, and its emptiness would be a
delete of the whole text (and a write from the doc meanwhile would replace the file
under the writer). It is read once it has held still this long."""
EMPTY_DIGEST = file_digest(b"")
RENAME_SIMILARITY = 0.5
"""A new text file sharing at least this share of its lines (Jaccard) with a text
file that vanished is its rename, when no inode pairs them (git's rename rule)."""
RENAME_MIN_LINES = 3


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
                             doc_bytes=self._doc_bytes, on_ignore=self._set_ignore)  # fmt: skip
        self.synced = self.ledger.synced
        """The durable sync record of each path (``mirror.state``)."""
        self.chunks = ChunkedFiles(self.store, self.chunking, self.ledger.stored_layout)
        self.patching: dict[str, PatchRecord] = load_records(self.root)
        """Chunked files whose in-place patch may have stopped midway (``mirror.patch``)."""
        self.digest_marks = DigestMarks()
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
        )
        self._retry: set[str] = set()
        self._gone: dict[int, str] = {}
        self._held: dict[str, tuple[float, dict[str, bytes]]] = {}
        """Synced paths found gone -> when (``trio.current_time``) they become deletes,
        and their doc's state vector then (what the delete covers)."""
        self._scanned = False
        """Whether a rescan ran: the first one reads every file whose doc is not at the
        version its record names, whatever its stat (a doc may have changed after its
        file was last written: appends made while the daemon was down, updates stored
        just before a crash)."""
        self._listings: Listings = {}
        self._hidden_kept: dict[str, bytes] = {}
        """Hidden entry guid -> digest of the copy kept of it under conflicts/."""
        self._emptied: dict[str, float] = {}
        """Synced files found just emptied -> when (``trio.current_time``) to look again."""
        self._recent = RecentWrites()
        """The mirror's recent writes of text files, to spot a save that overwrote one."""

    @property
    def view(self) -> ManifestView:
        """The manifest as last read (``ManifestKeeper.view``)."""
        return self.keeper.view

    # -- entry points ------------------------------------------------------------

    async def rescan(self) -> None:
        """Compare the whole folder with what was last synced (start-up, and
        periodically: catches whatever the watcher missed)."""
        await self.ledger.restore_promoted()
        self._listings.clear()
        await self._reload_ignore()
        found, skipped = await trio.to_thread.run_sync(walk_share, self.root, self.ignore)
        for rel, reason in skipped:
            self._report_once(f"walk:{rel}", "file-skipped", path=rel, reason=reason)
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
        await self.local_changes(changed + gone)

    async def local_changes(self, rels: Collection[str]) -> None:
        """Files at these share paths may have changed on disk."""
        await self.ledger.restore_promoted()
        if IGNORE_FILE in rels:
            await self._reload_ignore()
        if self.names.folds:
            rels = self._spelled(list(rels))
        rels = sorted(set(rels) | self._retry)
        self._retry.clear()
        self._listings.clear()
        self.ledger.forget_inodes()
        present = [rel for rel in rels if self._exists_as(rel)]
        self._gone = {
            synced.stat.ino: rel
            for rel in set(rels) - set(present)
            if (synced := self.synced.get(rel)) is not None and synced.stat is not None
        }
        # Existing files first: a file that moved is seen at its new path before the
        # old one is read as deleted.
        for rel in present:
            await self.reconcile(rel)
        for rel in rels:
            if rel not in present:
                await self.reconcile(rel)
        await self.keeper.edit()

    async def remote_changed(self, changes: dict[str, Peer | None]) -> None:
        """Docs ``changes`` (guid -> the peer it came from, None if local) changed.

        The manifest is re-read only when it changed, or when a doc named by a share
        path may need adopting: a random-guid doc that arrives before its entry is
        written when the manifest change bringing the entry arrives."""
        await self.ledger.restore_promoted()
        self._listings.clear()
        stored = list(changes)
        changes = self.keeper.chunks_to_roots(changes)
        unknown = [g for g in changes if g not in self.view.by_guid and g != MANIFEST_GUID]
        revived = any(
            (e := self.view.by_guid.get(g)) is not None and e.deleted for g in changes
        )  # an edit may bring a deleted file back
        if MANIFEST_GUID in changes or revived or any(map(is_share_path, unknown)):
            await self.refresh_manifest()
        async with trio.open_nursery() as nursery:  # one wait for the whole batch
            for guid in set(stored) | set(changes):
                nursery.start_soon(self.store.durable, guid)
        hidden = {entry.guid: winner for entry, winner in self.view.hidden}
        for guid, peer in changes.items():
            entry = self.view.by_guid.get(guid)
            if entry is None or guid == MANIFEST_GUID or entry.deleted:
                continue
            if self.view.by_path.get(entry.path) is entry:
                await self.reconcile(entry.path, peer)
            elif guid in hidden:
                await self._keep_hidden(entry, hidden[guid])

    async def flush(self) -> None:
        """Tell the deletions held past ``VANISHED_HOLD_S``, store held-back manifest
        entries and the sync state (end of a batch)."""
        now = trio.current_time()
        self._listings.clear()
        self._recent.expire(now)
        for rel in [rel for rel, (due, _) in self._held.items() if due <= now]:
            await self.reconcile(rel)  # still gone: a delete; back, or renamed: no more
            self._held.pop(rel, None)
        for rel in [rel for rel, due in self._emptied.items() if due <= now]:
            del self._emptied[rel]
            await self.reconcile(rel)
        await self.keeper.edit()

    @property
    def deletes_held(self) -> bool:
        """Whether a vanished file waits to be told as deleted, or an emptied one to be
        read (by a later ``flush``)."""
        return bool(self._held or self._emptied)

    # -- the manifest --------------------------------------------------------------

    async def refresh_manifest(self) -> None:
        """Re-read the manifest and carry out what changed in it on disk."""
        kinds = {guid: entry.kind for guid, entry in self.view.by_guid.items()}
        await self.keeper.edit()
        self.keeper.view = self.keeper.read_view()
        await self.keeper.adopt_path_named_docs()
        for rel in list(self.patching):  # a torn file must not pass for a save below
            await self._recover_patch(rel)
        for entry, reason in self.view.unsafe:
            self._report_once(f"unsafe:{entry.path!r}", "unsafe-path",
                              path=repr(entry.path), reason=reason)  # fmt: skip
        self.problems.settle("unsafe:", {repr(entry.path) for entry, _ in self.view.unsafe})
        await self.keeper.revive_edited()
        await self._resolve_collisions()
        await self._settle_hidden()
        for rel, was in sorted(self.synced.items()):
            known = self.view.by_guid.get(was.guid)
            if known is None:
                continue
            if known.deleted and known.superseded_by:
                await self._superseded(rel, known, was)
            elif known.deleted:
                await self._remote_delete(rel, known, was)
            elif known.path != rel and self.view.by_path.get(known.path) is known:
                await self._remote_rename(rel, known, was)
        for rel, live in sorted(self.view.by_path.items()):
            held = self.synced.get(rel)
            recast = kinds.get(live.guid, live.kind) is not live.kind  # a text outgrew one doc
            new = held is None or held.guid != live.guid or recast
            if new and self.store.doc(live.guid) and not self._renaming(live):
                await self.reconcile(rel)

    async def _resolve_collisions(self) -> None:
        """Live entries that lost their path to an earlier one: keep their text aside
        when it differs from the winner's, then retire them."""
        retire: list[tuple[str, str, bytes, str]] = []
        for loser, winner in self.view.shadowed:
            synced = self.synced.get(loser.path)
            loser_doc = self.store.doc(loser.guid)
            winner_doc = self.store.doc(winner.guid)
            if winner_doc is None:
                continue  # its content has not arrived: decide once it has
            ours = self._doc_bytes(loser, loser_doc)
            if ours is not None and ours != self._doc_bytes(winner, winner_doc):
                await self._keep_loser(loser.path, loser, ours)
            if synced is not None and synced.guid == loser.guid:
                # The disk holds the loser as synced: the winner replaces it as a
                # remote change would.
                self.synced.put(loser.path, synced._replace(guid=winner.guid), b"")
            state = loser_doc.state_vector() if loser_doc is not None else b""
            retire.append((loser.path, loser.guid, state, winner.guid))
        if retire:

            def retire_all(doc: YDoc) -> None:
                for _, guid, state, winner in retire:
                    set_fields(doc, guid, deleted=True, deleted_at=state, superseded_by=winner)

            await self.keeper.edit(retire_all)
            for path in sorted({path for path, _, _, _ in retire}):
                await self.reconcile(path)

    async def _keep_loser(self, path: str, loser: Entry, data: bytes) -> None:
        """Keep ``data``, the version of ``path`` of the entry that lost it, as a copy
        named after the device that created that entry."""
        device = short_device(loser.created.device)
        kept = await self._keep(path, "collision", data, device=device)
        log.warning("share %s: %s was created on two devices; the version that lost is "
                    "kept at %s", self.share, path, kept)  # fmt: skip
        self.publish("path-conflict", share=self.share, path=path, kept=str(kept))

    async def _superseded(self, rel: str, loser: Entry, synced: Synced) -> None:
        """The entry this path was synced with lost its path to another device's (which
        retired it): keep this device's bytes if they differ, then take the winner."""
        winner = self.view.by_guid.get(loser.superseded_by)
        winner_doc = self.store.doc(winner.guid) if winner is not None else None
        if winner is None or winner_doc is None or self.view.by_path.get(rel) is not winner:
            return  # the winner's content has not arrived: decide once it has
        try:
            got = await trio.to_thread.run_sync(read_file, self.root, rel)
        except (OSError, NotAFileError, UnsafePathError) as exc:
            self._report_once(f"read:{rel}", "file-error", path=rel, message=str(exc))
            return
        if got is not None and got[0] != self._doc_bytes(winner, winner_doc):
            await self._keep_loser(rel, loser, got[0])
        self.synced.put(rel, synced._replace(guid=winner.guid), b"")
        await self.reconcile(rel)

    async def _settle_hidden(self) -> None:
        """Entries that are, on this filesystem, one file with an earlier entry's path
        (``README.md`` after ``readme.md``, here case-insensitive): the winner has the
        file; the other keeps its path in the manifest, where peers that tell the two
        apart write both, and a copy of its content under ``.p2psync/conflicts/``.
        If this folder held the other one's file, a save made to it since the last
        sync goes into its doc first, its bytes are kept if its doc still does not
        hold them, and the file makes way for the winner's."""
        for entry, winner in self.view.hidden:
            synced = self.synced.get(entry.path)
            if synced is not None and synced.guid == entry.guid:
                await self._make_way(entry, synced)
            await self._keep_hidden(entry, winner)

    async def _make_way(self, entry: Entry, synced: Synced) -> None:
        rel = entry.path
        try:
            got = await trio.to_thread.run_sync(self._read_exact, rel)
            if got is not None and got[1] != synced.stat and file_digest(got[0]) != synced.digest:
                await self._local_save(rel, entry, got, synced, None)
                got = await trio.to_thread.run_sync(self._read_exact, rel)
            if got is not None:
                data, stat = got
                if data != self._doc_bytes(entry, self.store.doc(entry.guid)):
                    kept = await self._keep(rel, "local", data)
                    self.publish("path-conflict", share=self.share, path=rel, kept=str(kept))
                self._listings.clear()
                await trio.to_thread.run_sync(lambda: remove_file(self.root, rel, expect=stat))
        except FileChangedError:
            return  # saved meanwhile: the next batch tries again
        except (OSError, NotAFileError, UnsafePathError) as exc:
            self._report_once(f"del:{rel}", "file-error", path=rel, message=str(exc))
            return
        log.info("share %s: %s makes way for an earlier entry of the same name in another "
                 "case", self.share, rel)  # fmt: skip
        self.synced.pop(rel)

    async def _keep_hidden(self, entry: Entry, winner: Entry) -> None:
        """Keep (or refresh) the copy of a hidden entry's content, and say so once."""
        data = self._doc_bytes(entry, self.store.doc(entry.guid))
        if data is None:
            return
        digest = file_digest(data)
        if self._hidden_kept.get(entry.guid) == digest:
            return
        kept = await trio.to_thread.run_sync(
            lambda: keep_copy(self.root, entry.path, "case", data, device=entry.guid, refresh=True)
        )
        self._hidden_kept[entry.guid] = digest
        self._report_once(f"case:{entry.guid}:{entry.path}:{winner.path}", "case-collision",
                          path=entry.path, winner=winner.path, kept=str(kept))  # fmt: skip

    def _doc_bytes(self, entry: Entry, doc: DocReplica | None) -> bytes | None:
        return doc_bytes(entry, doc, self.chunks)

    async def _remote_delete(self, rel: str, entry: Entry, synced: Synced) -> None:
        self._listings.clear()
        try:
            await trio.to_thread.run_sync(
                lambda: remove_file(self.root, rel, expect=self._expect(rel, synced))
            )
        except FileNotFoundError:
            pass
        except FileChangedError:
            # Saved here since the last sync: the save wins over the deletion.
            log.info("share %s: %s was deleted by a peer but changed here; kept",
                     self.share, rel)  # fmt: skip
            await self.keeper.edit(lambda d: set_fields(d, entry.guid, deleted=False))
            await self.reconcile(rel)
            return
        except (OSError, UnsafePathError) as exc:
            self._report_once(f"del:{rel}", "file-error", path=rel, message=str(exc))
            return
        self.synced.pop(rel)
        self.chunks.forget(entry.guid)

    async def _remote_rename(self, rel: str, entry: Entry, synced: Synced) -> None:
        self._listings.clear()
        try:
            stat = await trio.to_thread.run_sync(
                lambda: move_file(self.root, rel, entry.path, expect=self._expect(rel, synced))
            )
        except FileNotFoundError:
            if self.synced.get(entry.path) is None:
                # The record follows the entry: the file is at its new path already
                # (killed after the rename, before the record moved), or it vanished
                # from the old one here (renamed or deleted by a user, in a batch not
                # taken yet): then the new path is a synced file found gone, whose
                # rename here is paired with it, and whose deletion here is one.
                self.synced.move(rel, entry.path, None)
            else:
                self.synced.pop(rel)
            await self.reconcile(entry.path)
            return
        except FileChangedError:
            self._retry.add(rel)
            return
        except (OSError, UnsafePathError) as exc:
            self._report_once(f"mv:{rel}", "file-error", path=rel, message=str(exc))
            return
        self.synced.move(rel, entry.path, stat)
        await self.reconcile(entry.path)

    def _expect(self, rel: str, synced: Synced) -> FileStat:
        """The stat of ``rel`` if it still holds what was synced; raises
        FileChangedError otherwise (FileNotFoundError if it is gone)."""
        got = read_file(self.root, rel)
        if got is None:
            raise FileNotFoundError(rel)
        data, stat = got
        if stat != synced.stat and file_digest(data) != synced.digest:
            raise FileChangedError(f"{rel} changed")
        return stat

    # -- one path ----------------------------------------------------------------

    async def reconcile(self, rel: str, peer: Peer | None = None) -> None:
        """Make the file at ``rel`` and its doc equal (see the module doc); what keeps
        them apart now is listed in ``problems``."""
        with self.problems.checking(rel):
            await self._reconcile(rel, peer)

    async def _reconcile(self, rel: str, peer: Peer | None) -> None:
        if self.ignore.ignored(rel, False):
            return
        if rel in self.patching and not await self._recover_patch(rel):
            return
        chunked = self.view.by_path.get(rel)
        if (
            chunked is not None
            and chunked.kind is FileKind.CHUNKED
            and (await self._stream_chunked(rel, chunked) or await self._scan_save(rel, chunked))
        ):
            return
        try:
            got = await trio.to_thread.run_sync(self._read_exact, rel)
        except (NotAFileError, UnsafePathError) as exc:
            self._report_once(f"skip:{rel}", "file-skipped", path=rel, reason=str(exc))
            return
        except OSError as exc:
            self._report_once(f"read:{rel}", "file-error", path=rel, message=str(exc))
            return
        entry = self.view.by_path.get(rel)
        synced = self.synced.get(rel)
        if got is None:
            await self._missing(rel, entry, synced, peer)
            return
        data, stat = got
        if not data and self._just_emptied(rel, stat, synced):
            return
        if entry is None:
            if synced is None or not await self._saved_then_renamed(rel, got, synced):
                await self._local_create(rel, data, stat)
            return
        guid = entry.guid
        same_doc = synced is not None and synced.guid == guid
        if (
            synced is not None
            and same_doc
            and (stat == synced.stat or file_digest(data) == synced.digest)
        ):
            chmod = synced.stat is not None and stat.mode != synced.stat.mode
            if chmod and stat.executable != entry.exec:  # chmod here
                await self.keeper.edit(lambda d: set_fields(d, guid, exec=stat.executable))
                entry = self.view.by_guid[guid]
            await self._write_doc(rel, entry, data, stat, peer)
            return
        await self._local_save(rel, entry, got, synced if same_doc else None, peer)

    def _just_emptied(self, rel: str, stat: FileStat, synced: Synced | None) -> bool:
        """Whether ``rel``, found empty, was synced with bytes and emptied less than
        ``TRUNCATION_HOLD_S`` ago: then it is left alone (neither read nor written)
        and looked at again by a later ``flush``."""
        if synced is None or synced.digest == EMPTY_DIGEST:
            return False
        if time.time_ns() - stat.mtime_ns >= TRUNCATION_HOLD_S * 1e9:
            return False
        self._emptied.setdefault(rel, trio.current_time() + TRUNCATION_HOLD_S)
        return True

    async def _missing(
        self, rel: str, entry: Entry | None, synced: Synced | None, peer: Peer | None
    ) -> None:
        """No file at ``rel``: a delete here, a file to write, or a record to drop."""
        if entry is not None and synced is not None and synced.guid == entry.guid:
            await self._local_delete(rel, entry)
        elif entry is not None and not self._renaming(entry):
            await self._write_doc(rel, entry, None, None, peer)
        elif entry is None and synced is not None:
            self.synced.pop(rel)

    def _renaming(self, entry: Entry) -> bool:
        """Whether ``entry``'s file is still recorded at another path, saved there (a
        peer's rename waits for the save to be taken in first: ``_saved_then_renamed``)."""
        old = self.synced.path_of(entry.guid)
        return old is not None and old != entry.path and old in self._retry

    async def _saved_then_renamed(
        self, rel: str, disk: tuple[bytes, FileStat], synced: Synced
    ) -> bool:
        """A file saved here while a peer renamed it: the save goes into its doc
        first (merged as any save), then the file follows the rename. Without this
        the save would be a new file at the old path, its text in two docs. False
        if ``rel``'s record names no renamed entry."""
        moved = self.view.by_guid.get(synced.guid)
        if moved is None or moved.deleted or self.view.by_path.get(moved.path) is not moved:
            return False
        await self._local_save(rel, moved, disk, synced, None)
        held = self.synced.get(rel)
        if held is not None and held.guid == moved.guid:
            await self._remote_rename(rel, moved, held)
        return True

    async def _local_create(self, rel: str, data: bytes, stat: FileStat) -> None:
        moved = self._vanished_with_inode(stat, rel)
        lines = lines_of(data)
        likeness = None
        if moved is not None and moved[1].digest != file_digest(data):  # else a plain rename
            likeness = self._likeness(moved[0], lines)
        if moved is not None and likeness is not None and likeness < RENAME_SIMILARITY:
            # The inode number may be one a deleted file left free and another file's
            # save took: then the text says which file this was, if any vanished.
            # The number alone pairs nothing (two files would merge into one doc).
            self._gone[stat.ino] = moved[0]
            moved = self._vanished_alike(lines, but=moved[0])
        else:
            moved = moved or self._vanished_alike(lines)
        if moved is not None:
            old, synced = moved
            log.info("share %s: %s was renamed to %s", self.share, old, rel)
            await self.keeper.edit(lambda d: set_fields(d, synced.guid, path=rel))
            self.synced.move(old, rel, None)
            self._held.pop(old, None)
            await self.reconcile(rel)  # saved meanwhile: merged as any save
            return
        earlier = self.view.deleted_at(rel)
        if earlier is not None and earlier.kind is file_kind(data):
            # Delete-then-create (or a delete this device has not finished telling):
            # the same doc again, with the new content as an edit.
            await self.keeper.edit(
                lambda d: set_fields(d, earlier.guid, deleted=False, deleted_at=b"")
            )
            await self.reconcile(rel)
            return
        large = self.chunks.is_large(data)
        kind = FileKind.CHUNKED if large else file_kind(data)
        entry = Entry(new_file_guid(), rel, kind, self.clock.tick(), exec=stat.executable)
        text = decode_text(data)
        if large:
            await self.chunks.create(entry.guid, data.decode())
        elif text is not None:
            # A new doc: nothing to re-seed over.
            await self.store.local_edit(entry.guid, lambda d: seed(content_of(d), text))
        else:
            stamp = self.clock.tick()
            await self.store.local_edit(entry.guid, lambda d: binary.put(d, stamp, data))
        self.keeper.add_new(entry)
        if large:
            pieces = self.chunks.layouts[entry.guid].pieces
            digest = self.digest_marks.learn(rel, stat, data, [p.size for p in pieces])
            base = await self.ledger.layout_base(pieces)
            self.ledger.record(rel, entry.guid, data, stat, digest=digest, base=base)
        else:
            self.ledger.record(rel, entry.guid, data, stat)

    def _vanished_with_inode(self, stat: FileStat, rel: str) -> tuple[str, Synced] | None:
        """A path of this batch that vanished and held the inode ``rel`` now has; else
        a synced path that is gone (in an earlier batch, or not yet reported) and held
        that inode with the size and mtime ``rel`` has now (a rename keeps both; a
        reused inode number rarely does)."""
        old = self._gone.get(stat.ino)
        synced = self.synced.get(old) if old is not None else None
        if old is None or synced is None or old == rel or self._exists_as(old):
            return self._gone_elsewhere(stat, rel)
        del self._gone[stat.ino]
        return old, synced

    def _vanished_alike(self, lines: set[str], but: str = "") -> tuple[str, Synced] | None:
        """A text file (one-doc or chunked) gone in this batch, or held as vanished
        (other than ``but``), whose doc shares at least ``RENAME_SIMILARITY`` of its
        lines with a new text file of ``lines``: a rename the inode does not show (the
        file was saved by replacing it just before, or renamed while the daemon was
        down before its record had the new inode). The one most alike wins; a tie is
        no rename."""
        if len(lines) < RENAME_MIN_LINES:
            return None
        scored = []
        for old in (set(self._gone.values()) | set(self._held)) - {but}:
            synced = self.synced.get(old)
            if synced is not None and not self._exists_as(old):
                scored.append((self._likeness(old, lines) or 0.0, old, synced))
        scored.sort(key=lambda found: found[0], reverse=True)
        if not scored or scored[0][0] < RENAME_SIMILARITY:
            return None
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            return None
        return scored[0][1], scored[0][2]

    def _likeness(self, old: str, lines: set[str]) -> float | None:
        """The share of lines the doc last synced at ``old`` and a new file of ``lines``
        have in common (Jaccard); None if that cannot tell: ``old``'s record names no
        live text doc (one-doc or chunked; a peer may have renamed it since)."""
        synced = self.synced.get(old)
        entry = self.view.by_guid.get(synced.guid) if synced is not None else None
        if entry is None or entry.deleted or entry.kind not in (FileKind.TEXT, FileKind.CHUNKED):
            return None
        held = self._doc_bytes(entry, self.store.doc(entry.guid))
        if held is None or not lines:
            return None
        theirs = set(held.decode().splitlines())
        return len(lines & theirs) / len(lines | theirs)

    def _gone_elsewhere(self, stat: FileStat, rel: str) -> tuple[str, Synced] | None:
        for old in self.ledger.paths_with_inode(stat.ino):
            was = self.synced.get(old)
            if (
                was is not None
                and was.stat is not None
                and old != rel
                and (was.stat.ino, was.stat.size, was.stat.mtime_ns)
                == (stat.ino, stat.size, stat.mtime_ns)
                and not self._exists_as(old)
            ):
                return old, was
        return None

    async def _local_delete(self, rel: str, entry: Entry) -> None:
        """Hold a synced file found gone (``VANISHED_HOLD_S``), then mark its entry
        deleted with the state of its docs the file last showed (``revival``): a
        peer's edit the file never showed, even one that arrived before the mirror
        found the file gone, is concurrent with the delete and keeps the file. (A
        one-doc text file's state is its merge base; other kinds take their docs'
        state when the file was first found gone.)"""
        now = trio.current_time()
        if rel not in self._held:
            fields = deletion_fields(entry, self.store.doc)
            if entry.kind is FileKind.TEXT:
                base = await trio.to_thread.run_sync(self.synced.base, rel)
                fields["deleted_at"] = state_vector(base) if base else fields["deleted_at"]
            self._held[rel] = (now + VANISHED_HOLD_S, fields)
        due, state = self._held[rel]
        if now < due:
            return
        log.info("share %s: %s was deleted here", self.share, rel)
        del self._held[rel]
        await self.keeper.edit(lambda d: set_fields(d, entry.guid, deleted=True, **state))
        self.synced.pop(rel)

    async def _local_save(
        self,
        rel: str,
        entry: Entry,
        disk: tuple[bytes, FileStat],
        synced: Synced | None,
        peer: Peer | None,
    ) -> None:
        """The file changed since the last sync (or was never synced with this doc)."""
        data, stat = disk
        doc = self.store.doc(entry.guid)
        if doc is None:
            return  # the doc has not arrived: reconciled when it does
        guid = entry.guid
        if stat.executable != entry.exec:
            await self.keeper.edit(lambda d: set_fields(d, guid, exec=stat.executable))
            entry = self.view.by_guid[guid]
        if entry.kind is FileKind.TEXT and self.chunks.outgrows(data):
            await self._outgrown_save(rel, entry, disk, synced, peer)
            return
        if entry.kind is FileKind.CHUNKED:
            await self._chunked_save(rel, entry, disk, synced, peer)
            return
        text = decode_text(data)
        if entry.kind is FileKind.BINARY or text is None:
            await self._binary_save(rel, entry, doc, data, stat)
            return
        current = doc.text(CONTENT)
        if synced is None:
            if current != text and doc.version().state_vector:
                # A file that was never synced meets a doc with content (its folder
                # was shared again without our state): keep the file's text aside,
                # the doc wins, nothing is doubled.
                kept = await self._keep(rel, "local", data)
                self.publish("path-conflict", share=self.share, path=rel, kept=str(kept))
            await self._write_doc(rel, entry, data, stat, peer)
            return
        if current != text:
            await self._apply_save(rel, entry, disk, synced, peer)
        await self._write_doc(rel, entry, data, stat, peer)

    async def _apply_save(
        self,
        rel: str,
        entry: Entry,
        disk: tuple[bytes, FileStat],
        synced: Synced,
        peer: Peer | None,
    ) -> None:
        """Store a save of a one-doc text file in its doc. If the doc changed since the
        file was synced (a peer's edit, another program's append, while the daemon ran
        or was down), the save is diffed against the merge base and merged as a
        concurrent edit; else it is diffed against the doc, by the doc's own client.
        The new record (the save's digest, the base after it) is written ahead of the
        doc's update, so a crash between the two loses neither."""
        data, stat = disk
        text = data.decode()
        doc = self.store.doc(entry.guid)
        assert doc is not None
        current = doc.text(CONTENT)
        overwritten = self._recent.overwritten(rel, data, trio.current_time())
        if overwritten is not None:
            kept = await self._keep(rel, "overwritten", overwritten)
            log.warning("share %s: a save of %s dropped lines the daemon had just written "
                        "(a program wrote back an older copy?); what it overwrote is kept at %s",
                        self.share, rel, kept)  # fmt: skip
            self.publish("path-conflict", share=self.share, path=rel, kept=str(kept))
        base = b""
        if file_digest(current.encode()) != synced.digest:
            base = await trio.to_thread.run_sync(self.synced.base, rel)
            if not base:
                log.warning("share %s: %s has no merge base (synced by an older version); "
                            "the save replaces the doc's text", self.share, rel)  # fmt: skip
        if base:
            update, after = await trio.to_thread.run_sync(merge_save, base, text)
        else:
            state, client = doc.full_state(), doc.ydoc.client_id
            update, after = await trio.to_thread.run_sync(text_update, state, text, client)
        ahead = Synced(entry.guid, file_digest(data), stat)
        await trio.to_thread.run_sync(lambda: self.synced.prepare(rel, ahead, after))
        await self.store.local_update(entry.guid, update, notify=False)
        self.synced.commit(rel)
        if base:
            log.info("share %s: a save of %s merged with changes from %s", self.share, rel,
                     peer or "another program")  # fmt: skip
            self.publish("file-merged", share=self.share, path=rel, peer=str(peer or ""))

    async def _outgrown_save(
        self,
        rel: str,
        entry: Entry,
        disk: tuple[bytes, FileStat],
        synced: Synced | None,
        peer: Peer | None,
    ) -> None:
        """A one-doc text file saved past the chunking threshold: its doc becomes a
        chunked root in place, its text the first chunk (``chunkfile.convert``), so
        nothing moves and a peer still editing it as one doc merges; the manifest
        entry's kind becomes ``chunked``. The save is then a chunked file's save,
        unless a peer's change is not written yet: then it is merged into the text as
        for any text file first (the new chunks' layout has no base to merge with)."""
        guid, doc = entry.guid, self.store.doc(entry.guid)
        pending = bool(doc and synced and file_digest(doc.text(CONTENT).encode()) != synced.digest)
        if pending:
            assert synced is not None
            await self._apply_save(rel, entry, disk, synced, peer)
        await self.chunks.convert(guid)
        await self.keeper.edit(lambda d: set_fields(d, guid, kind=FileKind.CHUNKED.value))
        log.info("share %s: %s outgrew one doc and is now a chunked file", self.share, rel)
        entry = self.view.by_guid[guid]
        if pending:
            await self._write_doc(rel, entry, disk[0], disk[1], peer)
        else:
            await self._chunked_save(rel, entry, disk, synced, peer)

    async def _chunked_save(
        self,
        rel: str,
        entry: Entry,
        disk: tuple[bytes, FileStat],
        synced: Synced | None,
        peer: Peer | None,
    ) -> None:
        """A local save of a chunked file: edits of the chunks it changed (see
        ``mirror.chunkfile``); kept aside when it cannot be merged."""
        data, stat = disk
        text = decode_large_text(data)
        if text is None:
            reason = "a large text file became binary; it is not synced until it is text again"
            self._report_once(f"kind:{rel}", "file-skipped", path=rel, reason=reason)
            return
        merged = synced is not None and await self.chunks.save(entry.guid, data)
        if not merged and self.chunks.content(entry.guid, data)[0] != data:
            # Never synced with this doc, or saved over a chunk a peer changed meanwhile:
            # the doc wins, the save is kept whole, nothing is doubled.
            kept = await self._keep(rel, "local", data)
            log.warning("share %s: a save of %s could not be merged with a change from %s; "
                        "kept at %s", self.share, rel, peer or "a peer", kept)  # fmt: skip
            self.publish("path-conflict", share=self.share, path=rel, kept=str(kept))
        await self._write_doc(rel, entry, data, stat, peer)

    async def _stream_chunked(self, rel: str, entry: Entry) -> bool:
        """Write a chunked file that is as last synced from its unchanged byte ranges
        and its changed chunks, never holding it whole (``chunkfile.write_plan``).
        Returns False when this does not apply (saved here, a chmod, no layout of the
        file): the caller then reads the file as for any other. Nothing to write (the
        event of the mirror's own write) costs a stat."""
        synced = self._synced_here(rel, entry)
        if synced is None or synced.stat is None:
            return False
        try:
            stat = await trio.to_thread.run_sync(local_stat, self.root, rel)
        except (OSError, NotAFileError):
            return False
        if stat != synced.stat or stat.executable != entry.exec:
            return False
        parts = self.chunks.plan(entry.guid)
        if parts is None:  # nothing to write, if the layout is the file's
            return self.chunks.written_pieces(entry.guid) is not None
        await self.store.durable(entry.guid)
        pieces = [piece for piece, _ in parts]
        base = await self.ledger.layout_base(pieces)

        def prepare(tmp: FileStat, digest: bytes) -> None:
            self.synced.prepare(rel, Synced(entry.guid, digest, tmp), base)

        try:
            written, digest = await trio.to_thread.run_sync(
                lambda: write_chunked(self.root, rel, parts, guid=entry.guid,
                                      executable=entry.exec, expect=stat,
                                      marks=self.digest_marks, prepared=prepare)
            )  # fmt: skip
        except FileChangedError:
            self.synced.abort(rel)
            self._retry.add(rel)  # saved meanwhile: merged on the next round
            return True
        except TornFileError as exc:
            log.error("share %s: %s; it is written again from its doc", self.share, exc)
            self.patching[rel] = exc.record
            self._retry.add(rel)
            return True
        except (OSError, UnsafePathError) as exc:
            self.synced.abort(rel)
            log.error("share %s: cannot write %s: %s", self.share, rel, exc)
            self._report_once(f"write:{rel}", "file-error", path=rel, message=str(exc))
            return True
        self.chunks.synced(entry.guid, pieces)
        self.ledger.record(rel, entry.guid, b"", written, digest=digest, base=base)
        return True

    def _synced_here(self, rel: str, entry: Entry) -> Synced | None:
        """The sync record of ``rel`` if it is of ``entry``'s doc and the name is there
        as spelled (on a case-insensitive folder only another spelling may be: a
        rename, which the whole read sees)."""
        synced = self.synced.get(rel)
        if synced is None or synced.guid != entry.guid:
            return None
        return None if self.names.folds and not self._exists_as(rel) else synced

    async def _scan_save(self, rel: str, entry: Entry) -> bool:
        """A save of a chunked file as written here, read against its layout without
        holding the file (``chunkscan``): only the changed bytes are loaded and
        diffed. Returns False when this does not apply (a remote change pending, a
        chmod, the file not as expected): the caller reads the file whole."""
        synced = self._synced_here(rel, entry)
        pieces = self.chunks.written_pieces(entry.guid)
        if synced is None or synced.stat is None or pieces is None:
            return False
        marks = self.digest_marks.below(rel, synced.stat, synced.stat.size)
        try:
            scan = await trio.to_thread.run_sync(lambda: scan_save(self.root, rel, pieces, marks))
        except (OSError, NotAFileError, FileChangedError, UnsafePathError):
            return False
        if scan is None or scan.stat == synced.stat or scan.stat.executable != entry.exec:
            return False
        kept = (scan.lead, scan.trail)
        if not await self.chunks.save_scanned(entry.guid, pieces, kept, scan.middle):
            return False
        self.digest_marks.put(rel, scan.stat, scan.marks)
        base = await self.ledger.layout_base(self.chunks.layouts[entry.guid].pieces)
        self.ledger.record(rel, entry.guid, b"", scan.stat, digest=scan.digest, base=base)
        if self.chunks.pending(entry.guid):  # a peer's change merged in: write it too
            await self._stream_chunked(rel, entry)
        return True

    async def _recover_patch(self, rel: str) -> bool:
        """A patch of ``rel`` may have stopped midway (``mirror.patch``): the file is
        not a local save. A torn one gets its doc written over it, then the record is
        dropped. False if that failed (the path waits for a later round)."""
        record = self.patching[rel]
        try:
            found = await trio.to_thread.run_sync(recovery, self.root, record)
            if found is Recovery.TORN and not await self._rewrite_torn(rel, record):
                return False
            if found is Recovery.COMPLETE:  # the daemon's own write, not a save
                self.synced.put(rel, Synced(record.guid, record.digest, None))
            await trio.to_thread.run_sync(remove_record, self.root, rel)
        except FileChangedError:
            self._retry.add(rel)
            return False
        except (OSError, UnsafePathError, NotAFileError) as exc:
            self._report_once(f"write:{rel}", "file-error", path=rel, message=str(exc))
            return False
        del self.patching[rel]
        return True

    async def _rewrite_torn(self, rel: str, record: PatchRecord) -> bool:
        """Write the doc of ``record`` over the torn file ``rel`` (atomically); False
        if its doc is not here (the file then waits, torn, for it)."""
        await self.store.durable(record.guid)
        got = await trio.to_thread.run_sync(read_file, self.root, rel)
        if got is None:
            return True
        if self.store.doc(record.guid) is None:
            return False
        data, stat = got
        self.chunks.forget(record.guid)
        content, pieces = self.chunks.content(record.guid, data)
        if content != data:
            stat = await trio.to_thread.run_sync(
                lambda: write_file(self.root, rel, content, executable=stat.executable,
                                   expect=stat)
            )  # fmt: skip
        log.warning("share %s: %s was being patched when the daemon stopped; it now holds "
                    "its doc %s again", self.share, rel, record.guid)  # fmt: skip
        self.chunks.synced(record.guid, pieces)
        digest = self.digest_marks.learn(rel, stat, content, [p.size for p in pieces])
        base = await self.ledger.layout_base(pieces)
        self.ledger.record(rel, record.guid, content, stat, digest=digest, base=base)
        return True

    async def _binary_save(
        self, rel: str, entry: Entry, doc: DocReplica, data: bytes, stat: FileStat
    ) -> None:
        if entry.kind is FileKind.TEXT:
            reason = "a text file became binary; it is not synced until it is text again"
            self._report_once(f"kind:{rel}", "file-skipped", path=rel, reason=reason)
            return
        now = binary.current(doc.ydoc)
        if now is None or now.data != data:
            stamp = self.clock.tick_after(now.stamp) if now is not None else self.clock.tick()
            await self.store.local_edit(entry.guid, lambda d: binary.put(d, stamp, data))
        await self._write_doc(rel, entry, data, stat, None)

    async def _write_doc(
        self,
        rel: str,
        entry: Entry,
        data: bytes | None,
        stat: FileStat | None,
        peer: Peer | None,
    ) -> None:
        """Write the doc's content to ``rel`` if the disk (``data``, read at ``stat``;
        None: no file) differs, then record it as synced. The record of the new
        content is written ahead of the file (``SyncTable.prepare``): after a crash
        the file is recognised as the daemon's write, never read as a save."""
        doc = self.store.doc(entry.guid)
        if doc is None:
            return
        pieces: list[Piece] = []
        base = b""
        if entry.kind is FileKind.BINARY:
            found = await self._binary_content(rel, entry, doc)
            if found is None:
                return
            content = found
            version = version_key(doc.version())  # the doc holds ``content`` now
        elif entry.kind is FileKind.CHUNKED:
            synced = self.synced.get(rel)
            as_synced = synced is not None and synced.guid == entry.guid and synced.stat == stat
            content, pieces = self.chunks.content(entry.guid, data, as_synced=as_synced)
            # Written, or not yet recorded as it is: else the record's layout stands.
            base = (
                await self.ledger.layout_base(pieces) if content != data or not as_synced else b""
            )
            version = b""
        else:
            content = doc.text(CONTENT).encode()
            # The base is the doc at this very moment (no await since the text was read).
            base = doc.full_state() if content != data else b""
            version = version_key(doc.version())
        if content != data or (stat is not None and stat.executable != entry.exec):
            # A file written before its doc is durable could, after a crash, be read
            # back as a local edit of text the doc no longer holds: a duplicate.
            await self.store.durable(entry.guid)
            try:
                if content != data:
                    ahead = Synced(entry.guid, file_digest(content), None, version)

                    def prepare(tmp: FileStat) -> None:
                        self.synced.prepare(rel, ahead._replace(stat=tmp), base)

                    stat = await trio.to_thread.run_sync(
                        lambda: write_file(self.root, rel, content, executable=entry.exec,
                                           expect=stat, prepared=prepare)
                    )  # fmt: skip
                    self.names.listed(self._listings, rel, present=True)
                    if entry.kind is FileKind.TEXT:
                        self._recent.wrote(rel, data or b"", content, trio.current_time())
                elif stat is not None:
                    stat = await trio.to_thread.run_sync(
                        lambda: set_executable(self.root, rel, entry.exec, expect=stat)
                    )
            except FileChangedError:
                self.synced.abort(rel)
                self._retry.add(rel)  # saved meanwhile: merged on the next round
                return
            except (OSError, UnsafePathError) as exc:
                self.synced.abort(rel)
                log.error("share %s: cannot write %s: %s", self.share, rel, exc)
                self._report_once(f"write:{rel}", "file-error", path=rel, message=str(exc))
                return
        assert stat is not None
        digest = None
        if entry.kind is FileKind.CHUNKED:
            self.chunks.synced(entry.guid, pieces)
            # The hash states at the chunk boundaries let a later patch digest its tail only.
            digest = self.digest_marks.learn(rel, stat, content, [p.size for p in pieces])
        self.ledger.record(rel, entry.guid, content, stat, doc, digest=digest, base=base or None,
                     version=version)  # fmt: skip

    async def _binary_content(self, rel: str, entry: Entry, doc: DocReplica) -> bytes | None:
        """The bytes a binary file is to hold (None: no version yet), after keeping the
        concurrent versions that lost."""
        for lost in await self._binary_conflicts(rel, entry, doc):
            log.warning("share %s: a concurrent version of %s lost to a later one; kept "
                        "at %s", self.share, rel, lost)  # fmt: skip
            self.publish("version-conflict", share=self.share, path=rel, kept=str(lost))
        version = binary.current(doc.ydoc)
        return None if version is None else version.data

    async def _binary_conflicts(self, rel: str, entry: Entry, doc: DocReplica) -> list[Path]:
        """Concurrent versions of a whole file that lost: kept, then removed."""
        losers = binary.losers(doc.ydoc)
        if not losers:
            return []
        kept = []
        for version in losers:
            device = short_device(binary.device_of(version.key))
            kept.append(await self._keep(rel, "lost", version.data, device=device))
        await self.store.local_edit(entry.guid, lambda d: binary.drop(d, losers))
        return kept

    # -- helpers -------------------------------------------------------------------

    def _read_exact(self, rel: str) -> tuple[bytes, FileStat] | None:
        """``read_file``, but None where only another spelling of the name exists (on a
        case-insensitive filesystem, ``notes.md`` after it was renamed ``Notes.md``)."""
        got = read_file(self.root, rel)
        if got is not None and self.names.folds and not self._exists_as(rel):
            return None
        return got

    def _exists_as(self, rel: str) -> bool:
        """``NameRules.exists_as`` with the folder listings of this batch: the mirror's
        own writes keep them true, its renames and removals drop them; a change by
        another program meanwhile is seen in the next batch."""
        return self.names.exists_as(self.root, rel, self._listings)

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
            self._report_once(f"ignore:{problem.line_number}:{problem.line}", "ignore-problem",
                              line=problem.line_number, reason=problem.reason)  # fmt: skip

    async def _keep(self, rel: str, why: str, data: bytes, *, device: str = "") -> Path:
        """Keep ``data``, a version of ``rel`` that lost, as a copy under
        ``.p2psync/conflicts/`` (``mirror.conflicts``); ``device``: whose version it
        is (this device's by default)."""
        who = device or short_device(self.clock.device)
        return await trio.to_thread.run_sync(
            lambda: keep_copy(self.root, rel, why, data, device=who)
        )

    def _report_once(self, key: str, type_: str, **fields: Any) -> None:
        self.problems.report(key, type_, **fields)


def wall_ms() -> int:
    """The wall clock in milliseconds, for the mirror's hybrid clock."""
    return time.time_ns() // 1_000_000
