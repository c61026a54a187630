"""A file taken in on its own (``Mirror.creates``): the one-file path of a file
``classify`` found with no doc to follow.

``take`` decides what such a file is: not a Yjs doc (a ``.ydoc`` path holding
anything else: skipped, nothing sent), a file renamed here (``renames``), a file
back where a deleted entry was (the same doc again, its content as an edit), a new
app doc, or a new doc. Plain new files of a batch are taken in as groups by
``newfiles``; this path is for one file, and for what a group hands back.
"""

from __future__ import annotations

import logging

from p2psync.mirror import binary
from p2psync.mirror.chunkpaths import ChunkPaths
from p2psync.mirror.content import content_of, seed
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.host import Host
from p2psync.mirror.kinds import FileKind, decode_text, file_kind
from p2psync.mirror.manifest import Entry, new_file_guid, set_fields
from p2psync.mirror.renames import Renames
from p2psync.mirror.saves import Saves
from p2psync.mirror.ydocfile import EMPTY_DOC, is_ydoc_path, merge_problem

log = logging.getLogger(__name__)


class Creates:
    """Takes one file with no doc to follow in (see the module doc)."""

    def __init__(self, m: Host, saves: Saves, renames: Renames, chunkpaths: ChunkPaths) -> None:
        self.m = m
        self.saves = saves
        self.renames = renames
        self.chunkpaths = chunkpaths

    async def take(self, rel: str, data: bytes, stat: FileStat) -> None:
        """Take the file at ``rel`` (holding ``data``, as ``stat``) in."""
        m = self.m
        ydoc = is_ydoc_path(rel)
        if ydoc and (problem := merge_problem(data)) is not None:
            m.report(f"ydoc:{rel}", "file-skipped", path=rel, reason=problem)
            return  # not a Yjs doc: no entry, nothing sent
        if await self.renames.renamed_here(rel, data, stat):
            return
        earlier = m.view.deleted_at(rel)
        if earlier is not None and (
            earlier.kind is FileKind.YDOC
            if ydoc
            else earlier.kind.textual is (file_kind(data) is FileKind.TEXT)
        ):
            # Delete-then-create (or a delete this device has not finished telling):
            # the same doc again, with the new content as an edit.
            if earlier.kind is FileKind.CHUNKED:
                held, pieces = m.chunks.content(earlier.guid, None)
                if await m.ledger.recreated_chunked(rel, earlier, held, pieces):
                    m.chunks.synced(earlier.guid, pieces)  # the layout saves merge by
            else:
                m.ledger.recreated(rel, earlier)
            await m.keeper.edit(
                lambda d: set_fields(d, earlier.guid, deleted=False, deleted_at=b"")
            )
            await m.reconcile(rel)
            return
        if ydoc:
            await self._new_ydoc(rel, data, stat)
        else:
            await self._new_doc(rel, data, stat)

    async def _new_doc(self, rel: str, data: bytes, stat: FileStat) -> None:
        """A new file that is no rename and no file back: a new doc, its entry and its
        record (written ahead of the entry, so a crash right after the entry still
        knows the file by it)."""
        m = self.m
        large = m.chunks.is_large(data)
        kind = FileKind.CHUNKED if large else file_kind(data)
        entry = Entry(new_file_guid(), rel, kind, m.clock.tick(), exec=stat.executable)
        log.debug("share %s: %s is a new file, doc %s (no vanished file pairs with it)",
                  m.share, rel, entry.guid)  # fmt: skip
        text = decode_text(data)
        if large:
            await m.chunks.create(entry.guid, data.decode())
        elif text is not None:
            # A new doc: nothing to re-seed over.
            await m.store.local_edit(entry.guid, lambda d: seed(content_of(d), text))
        else:
            stamp = m.clock.tick()
            await m.store.local_edit(entry.guid, lambda d: binary.put(d, stamp, data))
        if not large:
            await m.ledger.write_ahead(rel, entry.guid, data, stat)
        await self._add_entry(entry)
        if large:
            pieces = m.chunks.layouts[entry.guid].pieces
            digest = self.chunkpaths.digest_marks.learn(rel, stat, data, [p.size for p in pieces])
            base = await m.ledger.layout_base(pieces)
            m.ledger.record(rel, entry.guid, data, stat, digest=digest, base=base)
        else:
            m.ledger.record(rel, entry.guid, data, stat)

    async def _new_ydoc(self, rel: str, data: bytes, stat: FileStat) -> None:
        """A new app doc (``mirror.ydocfile``): its doc is the file's update."""
        m = self.m
        entry = Entry(new_file_guid(), rel, FileKind.YDOC, m.clock.tick(), exec=stat.executable)
        log.debug("share %s: %s is a new app doc, doc %s", m.share, rel, entry.guid)
        await m.store.local_update(entry.guid, data or EMPTY_DOC, notify=False)
        await self._add_entry(entry)
        await self.saves.write_doc(rel, entry, data, stat, None)

    async def _add_entry(self, entry: Entry) -> None:
        """Add and store a new file's entry, its doc being durable, before its record
        is written (``ManifestKeeper.store_new``)."""
        self.m.keeper.add_new(entry)
        await self.m.keeper.store_new()
