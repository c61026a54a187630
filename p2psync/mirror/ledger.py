"""The mirror's ledger of what was synced, path by path (``Mirror.ledger``).

It owns the durable sync records (``mirror.state.SyncTable``, as ``synced``) and
what is derived from them: how a record is made from a write or a save (its digest,
the doc's version the bytes are, the merge base), whether a file or its doc moved
since, the layout a chunked file's record keeps, the restore of saves a crash cut
off, and the index of the inodes the records hold (built when a batch first needs
it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path

import trio

from p2psync.errors import P2PSyncError
from p2psync.mirror.chunkbases import decode_layout, encode_layout, is_layout
from p2psync.mirror.chunkfile import Piece, converted_piece
from p2psync.mirror.content import CONTENT
from p2psync.mirror.fileio import FileStat, read_file
from p2psync.mirror.ignore import IGNORE_FILE
from p2psync.mirror.kinds import FileKind, decode_text, file_digest
from p2psync.mirror.manifest import Entry, ManifestView
from p2psync.mirror.records import Synced, version_key
from p2psync.mirror.revival import edited_since_deletion
from p2psync.mirror.state import SyncTable
from p2psync.mirror.store import DocStore
from p2psync.replica.doc import DocReplica

log = logging.getLogger(__name__)


class Ledger:
    """What was last synced at each path of one share folder (see the module doc)."""

    def __init__(
        self,
        root: Path,
        store: DocStore,
        *,
        share: str,
        view: Callable[[], ManifestView],
        doc_bytes: Callable[[Entry, DocReplica | None], bytes | None],
        on_ignore: Callable[[str], None],
    ) -> None:
        self.root = root
        self.store = store
        self.share = share
        self._view = view
        self._doc_bytes = doc_bytes
        self._on_ignore = on_ignore
        self.synced = SyncTable(root)
        """The durable sync record of each path (``mirror.state``)."""
        self._inodes: dict[int, list[str]] | None = None
        """Inode -> synced paths recorded with it, built when a batch first needs it."""

    def record(
        self,
        rel: str,
        guid: str,
        data: bytes,
        stat: FileStat,
        doc: DocReplica | None = None,
        *,
        digest: bytes | None = None,
        base: bytes | None = None,
        version: bytes | None = None,
    ) -> None:
        """Record ``rel`` as holding ``data`` (or bytes of ``digest``) at ``stat``, with
        ``base`` (default: the doc's state, if its text is ``data``) as the merge base a
        later save of a one-doc text file is diffed against (a chunked file's save
        merges by its layout, a binary file's by its clock: they keep none), and
        ``version`` (default: the doc's now, if ``data`` is its content) as the doc's
        version the bytes are. A record of the same doc and bytes keeps its base."""
        if rel == IGNORE_FILE:
            self._on_ignore(decode_text(data) or "")
        digest = file_digest(data) if digest is None else digest
        held = self.synced.get(rel)
        same = held is not None and held[:2] == (guid, digest)
        source = None
        if version is None or (base is None and not same):
            source = self.content_doc(guid, doc, data)
        if version is None:
            version = version_key(source.version()) if source is not None else b""
        if same:
            base = None
        elif base is None:
            entry = self._view().by_guid.get(guid)
            text = entry is None or entry.kind is FileKind.TEXT
            base = source.full_state() if source is not None and text else b""
        self.synced.put(rel, Synced(guid, digest, stat, version), base)

    def new_record(
        self, rel: str, guid: str, data: bytes, stat: FileStat
    ) -> tuple[str, Synced, bytes]:
        """What ``record`` stores for new file ``rel`` (no record yet), to be stored with
        the rest of its group by ``record_new``."""
        source = self.content_doc(guid, None, data)
        version = version_key(source.version()) if source is not None else b""
        entry = self._view().by_guid.get(guid)
        text = entry is None or entry.kind is FileKind.TEXT
        base = source.full_state() if source is not None and text else b""
        return rel, Synced(guid, file_digest(data), stat, version), base

    async def write_ahead(self, rel: str, guid: str, data: bytes, stat: FileStat) -> None:
        """Write ahead the record of new file ``rel`` (doc ``guid``, stored), before its
        entry is stored: the ``record`` made after the entry commits it (as
        ``write_ahead_new`` does for a group)."""
        _, synced, base = self.new_record(rel, guid, data, stat)
        await trio.to_thread.run_sync(lambda: self.synced.prepare(rel, synced, base, save=True))

    async def write_ahead_new(self, records: list[tuple[str, Synced, bytes]]) -> None:
        """Write ahead the records of a group of new files whose docs are stored,
        before their entries are (``SyncTable.write_ahead_new``); one worker hop."""
        if records:
            await trio.to_thread.run_sync(self.synced.write_ahead_new, records)

    async def record_new(self, records: list[tuple[str, Synced, bytes]]) -> None:
        """Store the records of a group of new files (``new_record``), written in one
        worker-thread hop (``SyncTable.write_new``)."""
        if records:
            await trio.to_thread.run_sync(self.synced.write_new, records)
            self.synced.adopt_new(records)

    def recreated(self, rel: str, entry: Entry) -> None:
        """A one-doc text file deleted (here or by a peer) is written at ``rel`` again:
        if its doc holds nothing its deletion did not cover, the file was that text
        when it went, so its doc is recorded as what the file was synced with. The
        new file is then a save of it, merged, not a file meeting a doc it never
        showed (which keeps the file's text aside as a conflict copy)."""
        doc = self.store.doc(entry.guid)
        if entry.kind is not FileKind.TEXT or doc is None or rel in self.synced:
            return
        if not entry.deleted_at or edited_since_deletion(entry, self.store.doc, chunks=False):
            return
        digest = file_digest(doc.text(CONTENT).encode())
        self.synced.put(rel, Synced(entry.guid, digest, None), doc.full_state())

    async def recreated_chunked(
        self, rel: str, entry: Entry, held: bytes, pieces: list[Piece]
    ) -> bool:
        """As ``recreated``, for a chunked file whose docs hold ``held`` laid out as
        ``pieces`` now: if they hold nothing its deletion did not cover, that layout
        is recorded as what the file was synced with, so the new file is a save merged
        by its layout (not a file meeting a doc it never showed). Whether it was."""
        if rel in self.synced or not entry.deleted_at:
            return False
        if edited_since_deletion(entry, self.store.doc):
            return False
        base = await self.layout_base(pieces)
        self.synced.put(rel, Synced(entry.guid, file_digest(held), None), base)
        return True

    def content_doc(self, guid: str, doc: DocReplica | None, data: bytes) -> DocReplica | None:
        """The doc of ``guid`` if ``data`` is its content now (so its version and state
        describe the file), else None; never a chunked file's root, whose chunks
        change without it."""
        entry = self._view().by_guid.get(guid)
        if entry is not None and entry.kind is FileKind.CHUNKED:
            return None
        doc = doc or self.store.doc(guid)
        if doc is None:
            return None
        held = self._doc_bytes(entry, doc) if entry is not None else doc.text(CONTENT).encode()
        return doc if held == data else None

    def write_failed(self, rel: str, exc: Exception) -> None:
        """A write of ``rel`` failed with ``exc``: the record written ahead of it is
        dropped (``SyncTable.abort``)."""
        self.synced.abort(rel)
        log.error("share %s: cannot write %s: %s", self.share, rel, exc)

    def stat_changed(self, rel: str, stat: FileStat) -> bool:
        synced = self.synced.get(rel)
        return synced is None or synced.stat != stat

    def doc_as_synced(self, rel: str) -> bool:
        """Whether the doc of ``rel`` is still at the version its record names (known
        without loading it), and still names this path: then a file of the recorded
        stat is its content, and a start-up need not read it."""
        synced = self.synced.get(rel)
        if synced is None or not synced.version:
            return False
        entry = self._view().by_guid.get(synced.guid)
        if entry is None or entry.deleted or entry.path != rel:
            return False
        now = self.store.version(synced.guid)
        return now is not None and version_key(now) == synced.version

    async def as_recorded(self, rels: Collection[str]) -> dict[str, Synced]:
        """The paths of ``rels`` whose file and doc are both as their record says, each
        with that record: a text or binary file whose doc is at the recorded version
        (``doc_as_synced``, known without loading the doc) and whose entry wants the
        recorded mode, and on disk the recorded stat and bytes (one worker-thread hop
        reads them all). Reconciling such a path would load its doc to find nothing to
        write and record what is recorded already: the watcher's echo of the mirror's
        own writes, a peer's change already written to its file (issue 19)."""
        view = self._view()
        wanted: dict[str, Synced] = {}
        for rel in rels:
            synced = self.synced.get(rel)
            entry = view.by_path.get(rel)
            if (
                synced is not None
                and synced.stat is not None
                and rel != IGNORE_FILE
                and entry is not None
                and entry.guid == synced.guid
                and entry.kind in (FileKind.TEXT, FileKind.BINARY)
                and entry.exec == synced.stat.executable
                and self.doc_as_synced(rel)
            ):
                wanted[rel] = synced
        if not wanted:
            return {}
        return await trio.to_thread.run_sync(_on_disk_as, self.root, wanted)

    async def layout_base(self, pieces: list[Piece]) -> bytes:
        """A chunked file's layout as its sync record's base, the chunks' bases
        stored first (``mirror.chunkbases``)."""
        return await trio.to_thread.run_sync(encode_layout, pieces, self.synced.blobs)

    def stored_layout(self, root_guid: str) -> list[Piece] | None:
        """The layout the sync record of chunked file ``root_guid`` keeps, if any. A
        record of the file as one doc (converted since, here or by a peer) keeps its
        merge base: the layout is then the root's own text at that base. Rebuilt from
        the docs instead, it would hold what peers added since, which a save made
        before it was written here would delete."""
        rel = self.synced.path_of(root_guid)
        if rel is None:
            return None
        base = self.synced.base(rel)
        if base and not is_layout(base):
            piece = converted_piece(root_guid, base)
            return [piece] if piece is not None else None
        return decode_layout(base, self.synced.blobs)

    async def restore_promoted(self) -> None:
        """Apply to its doc the merge base of each record kept from a crash
        (``SyncTable.promoted``): a save written ahead of its doc update that the
        crash cut off is stored now (a base already in its doc changes nothing), and
        only then is its record committed."""
        promoted, self.synced.promoted = self.synced.promoted, set()
        for rel in sorted(promoted):
            synced = self.synced.get(rel)
            base = await trio.to_thread.run_sync(self.synced.promoted_base, rel)
            doc = self.store.doc(synced.guid) if synced is not None else None
            if doc is not None and base and not is_layout(base):
                try:
                    await self.store.local_update(doc.guid, base, notify=False)
                except P2PSyncError as exc:
                    log.error("share %s: cannot restore the save of %s kept from before "
                              "a crash (tried again with the next change): %s",
                              self.share, rel, exc)  # fmt: skip
                    self.synced.promoted.add(rel)
                    continue
            self.synced.commit_promoted(rel)

    def forget_inodes(self) -> None:
        """A new batch: the inode index is built afresh when it first needs it."""
        self._inodes = None

    def paths_with_inode(self, ino: int) -> list[str]:
        """The synced paths recorded with inode ``ino`` (as of this batch)."""
        if self._inodes is None:
            self._inodes = {}
            for path in self.synced:
                for held in self.inodes_of(path):
                    self._inodes.setdefault(held, []).append(path)
        return self._inodes.get(ino, [])

    def inodes_of(self, rel: str) -> set[int]:
        """The inodes the record of ``rel`` names: its file's when synced, and, for a
        write a crash cut off (``SyncTable.unconfirmed``), the file's before it."""
        stats = [held.stat for held in (self.synced.get(rel),) if held is not None]
        unconfirmed = self.synced.unconfirmed.get(rel)
        if unconfirmed is not None and unconfirmed.before is not None:
            stats.append(unconfirmed.before.stat)
        return {stat.ino for stat in stats if stat is not None}


def _on_disk_as(root: Path, records: dict[str, Synced]) -> dict[str, Synced]:
    """The ``records`` whose file under ``root`` has the recorded stat and bytes (a
    path that cannot be read is not). Blocking."""
    same: dict[str, Synced] = {}
    for rel, synced in records.items():
        try:
            got = read_file(root, rel)
        except (OSError, P2PSyncError):
            continue
        if got is not None and got[1] == synced.stat and synced.holds(got[0]):
            same[rel] = synced
    return same
