"""Renames and deletes, here and by peers (``Mirror.renames``).

A file found gone is held (``VANISHED_HOLD_S``) before it is told as deleted; a new
file is the rename of one that vanished when it has its inode (unless its text says
another file took a freed inode number) or, failing that, enough of its lines. A
peer's rename or delete is carried out on disk unless the file was saved here since;
a save here to a file a peer renamed goes into its doc first, then follows the rename.
"""

from __future__ import annotations

import logging
from collections import Counter

import trio

from p2psync.mirror.chunkbases import is_layout
from p2psync.mirror.content import (
    lines_of,
    state_vector,
    text_at,
)
from p2psync.mirror.fileio import (
    FileChangedError,
    FileStat,
    NotAFileError,
    local_stat,
    move_file,
    read_file,
    remove_file,
)
from p2psync.mirror.host import Host
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry, set_fields
from p2psync.mirror.records import Synced
from p2psync.mirror.revival import deletion_fields
from p2psync.mirror.saves import Saves

log = logging.getLogger(__name__)

VANISHED_HOLD_S = 2.0
"""A synced file found gone is told as deleted only this long after a batch first
found it gone: the other end of a rename may come in a later batch (renamed while a
batch was running, or a move the watcher could not pair), and is then still a rename."""
RENAME_SIMILARITY = 0.5
"""A new text file at least this alike a text file that vanished (``alike``: the
share of lines they have in common, or of the old file's lines it kept) is its
rename, when no inode pairs them (git's rename rule, by lines)."""
RENAME_MIN_LINES = 3
"""A new file of fewer lines is never paired by its text alone."""
RENAME_MIN_KEPT = 2
"""The share of a gone file's lines a new file kept counts when it kept at least
this many (``alike``); one will do when its inode pairs them too."""


class Renames:
    """Pairs vanished files with new ones, and carries out peers' renames and deletes
    (see the module doc)."""

    def __init__(self, m: Host, saves: Saves) -> None:
        self.m = m
        self.saves = saves
        self.gone: dict[int, str] = {}
        """Inode -> the path of this batch that vanished with it (an inode the records
        of two vanished paths name pairs neither: inodes are reused)."""
        self.gone_paths: set[str] = set()
        """The synced paths of this batch that vanished: each may be the old end of a
        rename that its text shows where no inode does (its record keeps no stat,
        being written ahead of a write a crash cut off; its inode is ambiguous; or
        the file was saved by replacing it)."""
        self.held: dict[str, tuple[float, dict[str, bytes]]] = {}
        """Synced paths found gone -> when (``trio.current_time``) they become deletes,
        and their doc's state vector then (what the delete covers)."""
        self._known: dict[tuple[str, str], list[set[str]]] = {}
        """(old path, its doc) -> the line sets ``_likeness`` compares new files with,
        read once a batch: under kill storms dozens of held paths are candidates for
        every new file."""

    def vanished(self, records: dict[str, Synced | None]) -> None:
        """The paths of a new batch that are gone from disk, with their records: the
        synced ones may be the old ends of renames found in this batch."""
        held = {rel: self.m.ledger.inodes_of(rel) for rel in records}
        inodes = Counter(ino for inos in held.values() for ino in inos)
        self.gone = {ino: rel for rel, inos in held.items() for ino in inos if inodes[ino] == 1}
        self.gone_paths = {rel for rel, s in records.items() if s}
        self._known.clear()

    async def by_inode(self, rels: list[str]) -> list[str]:
        """Those of the new files at ``rels`` that hold the inode of a path of this
        batch that vanished: renames here, most likely (``renamed_here`` decides)."""
        if not self.gone:
            return []
        root = self.m.root

        def inode_of(rel: str) -> int | None:
            try:
                stat = local_stat(root, rel)
            except NotAFileError:
                return None
            return stat.ino if stat is not None else None

        inodes = await trio.to_thread.run_sync(lambda: [inode_of(rel) for rel in rels])
        return [rel for rel, ino in zip(rels, inodes, strict=True) if ino in self.gone]

    async def remote_delete(self, rel: str, entry: Entry, synced: Synced) -> None:
        self.m.listings.clear()
        try:
            with self.m.problems.file_errors(f"del:{rel}", rel, but=(FileNotFoundError,)) as failed:
                await trio.to_thread.run_sync(
                    lambda: remove_file(self.m.root, rel, expect=self._expect(rel, synced))
                )
        except FileNotFoundError:
            # Gone here too, or renamed by a user in a batch not taken yet: the record
            # stays until that batch reads the path, so such a rename pairs with it
            # (and keeps the file) and a deletion here drops it (``classify``).
            return
        except FileChangedError:
            # Saved here since the last sync: the save wins over the deletion.
            log.info("share %s: %s was deleted by a peer but changed here; kept",
                     self.m.share, rel)  # fmt: skip
            await self.m.keeper.edit(lambda d: set_fields(d, entry.guid, deleted=False))
            await self.m.reconcile(rel)
            return
        if failed:
            return
        self.m.synced.pop(rel)
        self.m.chunks.forget(entry.guid)

    async def remote_rename(self, rel: str, entry: Entry, synced: Synced) -> None:
        self.m.listings.clear()
        try:
            with self.m.problems.file_errors(f"mv:{rel}", rel, but=(FileNotFoundError,)) as failed:
                if self._written_there(entry):
                    await self._drop_old_copy(rel, entry, synced)
                    return
                stat = await trio.to_thread.run_sync(
                    lambda: move_file(
                        self.m.root, rel, entry.path, expect=self._expect(rel, synced)
                    )
                )
        except FileNotFoundError:
            if self.m.synced.get(entry.path) is None:
                # The record follows the entry: the file is at its new path already
                # (killed after the rename, before the record moved), or it vanished
                # from the old one here (renamed or deleted by a user, in a batch not
                # taken yet): then the new path is a synced file found gone, whose
                # rename here is paired with it, and whose deletion here is one.
                self.m.synced.move(rel, entry.path, None)
            else:
                self.m.synced.pop(rel)
            await self.m.reconcile(entry.path)
            return
        except FileChangedError:
            self.m.retry.add(rel)
            return
        if failed:
            return
        self.m.synced.move(rel, entry.path, stat)
        await self.m.reconcile(entry.path)

    def _written_there(self, entry: Entry) -> bool:
        """Whether ``entry``'s doc is written at its new path already, as synced (a
        file the daemon wrote there while the old one was recorded and saved)."""
        held = self.m.synced.get(entry.path)
        return held is not None and held.guid == entry.guid and self.m.exists_as(entry.path)

    async def _drop_old_copy(self, rel: str, entry: Entry, synced: Synced) -> None:
        """``rel`` is the old copy of a file written at its new path already: it cannot
        move there, and holds nothing the doc lacks once a save made to it is taken in
        (``_expect`` raises FileChangedError until then: ``saved_then_renamed`` merges
        it on the next round). It is removed; the new path is reconciled."""
        await trio.to_thread.run_sync(
            lambda: remove_file(self.m.root, rel, expect=self._expect(rel, synced))
        )
        self.m.synced.pop(rel)
        log.info("share %s: %s was renamed to %s, written there already; the old copy "
                 "is removed", self.m.share, rel, entry.path)  # fmt: skip
        await self.m.reconcile(entry.path)

    def _expect(self, rel: str, synced: Synced) -> FileStat:
        """The stat of ``rel`` if it still holds what was synced; raises
        FileChangedError otherwise (FileNotFoundError if it is gone)."""
        got = read_file(self.m.root, rel)
        if got is None:
            raise FileNotFoundError(rel)
        data, stat = got
        if not synced.holds(data):
            raise FileChangedError(f"{rel} changed")
        return stat

    def renaming(self, entry: Entry) -> bool:
        """Whether ``entry``'s file is still recorded at another path, saved there (a
        peer's rename waits for the save to be taken in first: ``_saved_then_renamed``)."""
        old = self.m.synced.path_of(entry.guid)
        return old is not None and old != entry.path and old in self.m.retry

    async def saved_then_renamed(
        self, rel: str, disk: tuple[bytes, FileStat], synced: Synced
    ) -> bool:
        """A file saved here while a peer renamed it: the save goes into its doc
        first (merged as any save), then the file follows the rename. Without this
        the save would be a new file at the old path, its text in two docs. False
        if ``rel``'s record names no renamed entry."""
        moved = self.m.view.by_guid.get(synced.guid)
        if moved is None or moved.deleted or self.m.view.by_path.get(moved.path) is not moved:
            return False
        await self.saves.local_save(rel, moved, disk, synced, None)
        held = self.m.synced.get(rel)
        if held is not None and held.guid == moved.guid:
            await self.remote_rename(rel, moved, held)
        return True

    def _vanished_with_inode(self, stat: FileStat, rel: str) -> tuple[str, Synced] | None:
        """A path of this batch that vanished and held the inode ``rel`` now has; else
        a synced path that is gone (in an earlier batch, or not yet reported) and held
        that inode with the size and mtime ``rel`` has now (a rename keeps both; a
        reused inode number rarely does)."""
        old = self.gone.get(stat.ino)
        synced = self.m.synced.get(old) if old is not None else None
        if old is None or synced is None or old == rel or self.m.exists_as(old):
            return self._gone_elsewhere(stat, rel)
        del self.gone[stat.ino]
        return old, synced

    async def _vanished_alike(
        self, lines: set[str], ino: int, but: str = ""
    ) -> tuple[str, Synced] | None:
        """A text file (one-doc or chunked) gone in this batch, held as vanished, or
        recorded with inode ``ino`` and gone (other than ``but``), at least
        ``RENAME_SIMILARITY`` alike (``_likeness``) a new text file of ``lines``: a
        rename the inode alone does not show (the file was saved by replacing it just
        before, saved in place so its size and mtime are not the record's, or renamed
        while the daemon was down before its record had the new inode). The one most
        alike wins; a tie is no rename."""
        if len(lines) < RENAME_MIN_LINES:
            return None
        scored = []
        candidates = self.gone_paths | set(self.held)
        candidates.update(self.m.ledger.paths_with_inode(ino))
        for old in candidates - {but}:
            synced = self.m.synced.get(old)
            if synced is not None and not self.m.exists_as(old):
                scored.append(((await self._likeness(old, lines)) or 0.0, old, synced))
        scored.sort(key=lambda found: found[0], reverse=True)
        best = scored[0][0] if scored else 0.0
        tied = len(scored) > 1 and scored[1][0] == best
        if best >= RENAME_SIMILARITY and not tied:
            return scored[0][1], scored[0][2]
        if candidates:  # why a file that may be a rename is not paired (soak trails)
            scores = {old: round(score, 2) for score, old, _ in scored}
            log.debug("share %s: a new file of %d lines and inode %d is like none of %s",
                      self.m.share, len(lines), ino, scores or sorted(candidates))  # fmt: skip
        return None

    async def _likeness(
        self, old: str, lines: set[str], *, min_kept: int = RENAME_MIN_KEPT
    ) -> float | None:
        """How alike a new file of ``lines`` is to the file last synced at ``old``
        (``alike``, with ``min_kept``): to its merge base (what the file held then) or
        to its doc now, whichever is higher. The base tells a file saved and renamed
        while peers grew its doc (their lines are not in the file yet); the doc tells
        a file whose record keeps no base. None if neither can tell: ``old``'s record
        names no text doc (one-doc or chunked; a peer may have renamed it since) or
        one that lost its path to another (a doc a peer deleted still tells)."""
        synced = self.m.synced.get(old)
        entry = self.m.view.by_guid.get(synced.guid) if synced is not None else None
        if entry is None or entry.superseded_by or not entry.kind.textual or not lines:
            return None
        known = self._known.get((old, entry.guid))
        if known is None:
            known = self._known[old, entry.guid] = await self._known_lines(old, entry)
        return max((alike(lines, theirs, min_kept) for theirs in known if theirs), default=None)

    async def _known_lines(self, old: str, entry: Entry) -> list[set[str]]:
        """The lines of ``old``'s merge base (one-doc text only) and of its doc now."""
        known = []
        if entry.kind is FileKind.TEXT:
            known.append(await trio.to_thread.run_sync(self._base_lines, old))
        held = self.m.doc_bytes(entry, self.m.store.doc(entry.guid))
        if held is not None:
            known.append(set(held.decode().splitlines()))
        return known

    def _base_lines(self, old: str) -> set[str]:
        """The lines of the one-doc text ``old`` held when last synced (its record's
        merge base; none if the record keeps no one-doc base)."""
        base = self.m.synced.base(old)
        return set(text_at(base).splitlines()) if base and not is_layout(base) else set()

    def _gone_elsewhere(self, stat: FileStat, rel: str) -> tuple[str, Synced] | None:
        for old in self.m.ledger.paths_with_inode(stat.ino):
            was = self.m.synced.get(old)
            if (
                was is not None
                and was.stat is not None
                and old != rel
                and (was.stat.ino, was.stat.size, was.stat.mtime_ns)
                == (stat.ino, stat.size, stat.mtime_ns)
                and not self.m.exists_as(old)
            ):
                return old, was
        return None

    def holding(self, rel: str) -> bool:
        """Whether the record of ``rel``, a synced file gone whose entry a peer
        deleted or moved meanwhile, is still held (``VANISHED_HOLD_S``, as a delete
        here is): a rename here the watcher reports in a later batch still pairs with
        it. Nothing is told when the hold ends: the record is dropped."""
        now = trio.current_time()
        due, _ = self.held.setdefault(rel, (now + VANISHED_HOLD_S, {}))
        return now < due

    async def local_delete(self, rel: str, entry: Entry) -> None:
        """Hold a synced file found gone (``VANISHED_HOLD_S``), then mark its entry
        deleted with the state of its docs the file last showed (``revival``): a
        peer's edit the file never showed, even one that arrived before the mirror
        found the file gone, is concurrent with the delete and keeps the file. (A
        one-doc text file's state is its merge base; other kinds take their docs'
        state when the file was first found gone, and are kept if their docs changed
        since the file was last synced: ``_changed_since_synced``.)"""
        if rel in self.m.synced.unconfirmed:
            # Its write may never have happened: no delete is told, the file is
            # written (again) from its doc.
            self.m.synced.drop_unconfirmed(rel)
            await self.m.reconcile(rel)
            return
        now = trio.current_time()
        if not self.held.get(rel, (0.0, {}))[1]:  # not held, or held by ``holding``
            fields = deletion_fields(entry, self.m.store.doc)
            if entry.kind is FileKind.TEXT:
                base = await trio.to_thread.run_sync(self.m.synced.base, rel)
                fields["deleted_at"] = state_vector(base) if base else fields["deleted_at"]
            self.held[rel] = (now + VANISHED_HOLD_S, fields)
        due, state = self.held[rel]
        if now < due:
            return
        del self.held[rel]
        if self._changed_since_synced(rel, entry):
            # A peer's change the file never showed (it arrived while the daemon was
            # down, before the file was found gone): concurrent with the delete, so
            # the file is kept, as a peer's delete of a file changed here is.
            log.info("share %s: %s was deleted here but changed by a peer meanwhile; kept",
                     self.m.share, rel)  # fmt: skip
            self.m.synced.pop(rel)
            await self.m.reconcile(rel)
            return
        log.info("share %s: %s was deleted here", self.m.share, rel)
        await self.m.keeper.edit(lambda d: set_fields(d, entry.guid, deleted=True, **state))
        self.m.synced.pop(rel)

    def _changed_since_synced(self, rel: str, entry: Entry) -> bool:
        """Whether ``entry``'s docs hold other content than the file ``rel`` last
        synced, for a file that keeps no text merge base (binary, chunked, app doc):
        the state its deletion records is its docs' when the file was found gone, and
        a change that arrived before that, which the file never showed, would be
        covered by it. (A one-doc text file's deletion records its merge base.)"""
        synced = self.m.synced.get(rel)
        if entry.kind is FileKind.TEXT or synced is None:
            return False
        held = self.m.doc_bytes(entry, self.m.store.doc(entry.guid))
        return held is not None and not synced.holds(held)

    async def renamed_here(self, rel: str, data: bytes, stat: FileStat) -> bool:
        """Whether the new file ``rel`` (``data`` at ``stat``) is a file that vanished
        here, renamed: then its entry and record move to ``rel``, and it is
        reconciled there (saved meanwhile: merged as any save)."""
        moved = self._vanished_with_inode(stat, rel)
        if moved is not None and moved[1].guid not in self.m.view.by_guid:
            moved = None  # its record names a doc no entry holds (a crash lost the entry)
        lines = lines_of(data)
        likeness = None
        if moved is not None and not moved[1].holds(data):  # else a plain rename
            # Its inode tells already: keeping most of a small file's lines will do.
            likeness = await self._likeness(moved[0], lines, min_kept=1)
        if moved is not None and likeness is not None and likeness < RENAME_SIMILARITY:
            # The inode number may be one a deleted file left free and another file's
            # save took: then the text says which file this was, if any vanished.
            # The number alone pairs nothing (two files would merge into one doc).
            self.gone[stat.ino] = moved[0]
            moved = await self._vanished_alike(lines, stat.ino, but=moved[0])
        else:
            moved = moved or await self._vanished_alike(lines, stat.ino)
        if (
            moved is not None
            and moved[0] in self.m.synced.unconfirmed
            and not self.m.synced.settle_unconfirmed(moved[0], data, stat)
        ):
            # Written just before a crash, or not: the file tells, and so which record
            # it was; a write of a file new here that never happened was none.
            moved = None
        if moved is not None:
            old, synced = moved
            log.info("share %s: %s was renamed to %s", self.m.share, old, rel)
            fields: dict[str, object] = {"path": rel}
            was = self.m.view.by_guid.get(synced.guid)
            if was is not None and not was.born:
                fields["born"] = was.path  # where it was created (``ManifestView.twins``)
            if was is not None and was.deleted and not was.superseded_by:
                # A peer deleted the file this device had not yet removed: the rename
                # here is an edit concurrent with that delete, which keeps the file.
                log.info("share %s: %s was deleted by a peer but renamed here; kept",
                         self.m.share, old)  # fmt: skip
                fields |= {"deleted": False, "deleted_at": b"", "deleted_chunks": b""}
            await self.m.keeper.edit(lambda d: set_fields(d, synced.guid, **fields))
            self.m.synced.move(old, rel, None)
            self.held.pop(old, None)
            await self.m.reconcile(rel)  # saved meanwhile: merged as any save
            return True
        return False


def alike(new: set[str], old: set[str], min_kept: int = RENAME_MIN_KEPT) -> float:
    """How alike a new file's lines are to an old file's: the share of lines they
    have in common (Jaccard), or, if higher, the share of the old file's lines the
    new one still has, when they are at least ``min_kept`` (a file that grew much
    before it was renamed keeps all its old lines, though they are fewer than half
    of its lines now; a file of one line that its inode pairs keeps its one line)."""
    common = len(new & old)
    kept = common / len(old) if common >= min_kept else 0.0
    return max(common / len(new | old), kept)
