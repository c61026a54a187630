"""Large text files as chunked docs: the mirror's side of ``p2psync.mirror.chunked``.

A text file above ``Chunking.file_bytes`` is stored, from its creation, as a root doc
(the guid its manifest entry names, kind ``chunked``) and chunk docs, each with its own
log and sync stream (docs/mirror.md, "Large text files"); a one-doc text file saved
past it is converted in place, its doc becoming the root and its first chunk
(``convert``). The file on disk stays one file. This module keeps, per such file,
the *layout* it was last synced with: each chunk's guid, length and digest, in order.
With it

- a local save is compared with the layout chunk by chunk from both ends: only the
  chunks between the first and the last that differ are loaded and diffed, and the
  edits go to them (``save``);
- the file to write after a remote change is assembled from the bytes on disk for the
  chunks that did not change and from the docs of those that did (``content``), so a
  change near the end loads one chunk, not fifty megabytes of them.

The layout is kept in memory, and in the file's sync record (``mirror.chunkbases``):
after a restart the first use of a file reads it back, and loads each chunk once to
see which of them changed since the file was written.

Edits are made on scratch copies of the touched docs (``mirror.chunkscratch``) and
stored through the share as local updates (``DocStore.local_update``), chunks first,
then the root, so a peer never sees a chunk listed that holds less than was meant.

Each chunk of a layout also keeps its *base*: the chunk doc's state whose text is what
the file holds for it. A save is merged as a one-doc file's save is (``engine.merge_save``):
its edits are made on scratch copies of the chunks at their bases, and the updates
they give are applied to the live docs, so they merge with whatever peers changed
meanwhile, in the same chunk or not, as a peer's concurrent edit would. Holding the
bases costs about one copy of the file's CRDT state in memory, and on disk.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pycrdt

from p2psync.config import Config
from p2psync.ids import new_client_id
from p2psync.mirror.chunked import (
    CHUNK_MAX_BYTES,
    CONTENT,
    ChunkedText,
    chunk_key,
    chunk_order,
    convert,
    seed,
)
from p2psync.mirror.chunklayout import Layout, Part, Piece, match, piece_of
from p2psync.mirror.chunkscratch import ChunkStore, ScratchDocs, text_of
from p2psync.mirror.erased import erased_since
from p2psync.mirror.kinds import decode_text
from p2psync.mirror.textdiff import Erased, changed_regions
from p2psync.replica.doc import DocReplica

YDoc = pycrdt.Doc[Any]

log = logging.getLogger(__name__)

__all__ = [
    "CHUNKED_FILE_BYTES",
    "LARGE_TEXT_MAX_BYTES",
    "ChunkStore",
    "ChunkedFiles",
    "Chunking",
    "Layout",
    "Part",
    "Piece",
    "ScratchDocs",
    "chunking_of",
    "decode_large_text",
    "match",
    "piece_of",
]

CHUNKED_FILE_BYTES = 4 * 1024 * 1024
"""Text files larger than this (UTF-8 bytes) are chunked docs from their creation;
the default is ``kinds.TEXT_MAX_BYTES``, so every file that was text stays as it was."""
LARGE_TEXT_MAX_BYTES = 512 * 1024 * 1024
"""Larger files are synced whole even if they are text."""


@dataclass(frozen=True, slots=True)
class Chunking:
    """When a text file is chunked, and how big an appended chunk grows."""

    file_bytes: int = CHUNKED_FILE_BYTES
    chunk_bytes: int = CHUNK_MAX_BYTES


def chunking_of(config: Config) -> Chunking:
    """The chunking ``[docs]`` in the configuration asks for."""
    return Chunking(
        config.chunked_file_bytes or CHUNKED_FILE_BYTES, config.chunk_max_bytes or CHUNK_MAX_BYTES
    )


def decode_large_text(data: bytes) -> str | None:
    """The text of a file that may be a chunked doc (any size up to
    ``LARGE_TEXT_MAX_BYTES``), or None if it is not UTF-8 text."""
    if len(data) > LARGE_TEXT_MAX_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def converted_piece(root_guid: str, state: bytes) -> Piece | None:
    """The layout, one piece, of a file last synced as the one-doc text ``root_guid``
    at merge base ``state`` and converted since (``convert``): the root's own text
    at that base. The base is ``state`` with the conversion made on a copy, so a save
    merged against it finds the root listing itself; that entry is never stored (only
    what a save changes is), and no stored edit refers to it. None if ``state`` is
    not a one-doc text's (it lists other chunks)."""
    doc: YDoc = pycrdt.Doc(client_id=new_client_id())
    doc.apply_update(state)
    try:
        convert(doc, root_guid)
    except ValueError:
        return None
    return piece_of(root_guid, str(text_of(doc)).encode(), doc.get_update())


class ChunkedFiles:
    """The layouts of a share's chunked files, and their saves and writes."""

    def __init__(
        self,
        store: ChunkStore,
        chunking: Chunking,
        stored: Callable[[str], list[Piece] | None] = lambda root_guid: None,
    ) -> None:
        self.store = store
        self.chunking = chunking
        self.stored = stored
        """Root guid -> the layout its file's sync record keeps, if any."""
        self.layouts: dict[str, Layout] = {}
        self.owners: dict[str, str] = {}
        """Chunk guid -> root guid, for the chunks of every layout built."""

    def is_large(self, data: bytes) -> bool:
        """Whether a new file holding ``data`` is to be a chunked doc."""
        return len(data) > self.chunking.file_bytes and decode_large_text(data) is not None

    def outgrows(self, data: bytes) -> bool:
        """Whether a one-doc text file saved as ``data`` is to become a chunked doc:
        it passed the threshold, or what one doc may hold (``kinds.TEXT_MAX_BYTES``)."""
        return self.is_large(data) or (
            decode_text(data) is None and decode_large_text(data) is not None
        )

    async def convert(self, root_guid: str) -> None:
        """Turn the one-doc text ``root_guid`` into a chunked doc in place
        (``chunked.convert``): its text becomes the first chunk."""
        scratch = ScratchDocs(self.store)
        convert(scratch(root_guid), root_guid)
        await scratch.store(root_guid)
        self.forget(root_guid)

    async def create(self, root_guid: str, text: str) -> None:
        """Store ``text`` as the new chunked doc ``root_guid``."""
        scratch = ScratchDocs(self.store)
        guids = seed(scratch(root_guid), root_guid, scratch, text, self.chunking.chunk_bytes)
        await scratch.store(root_guid)
        self.layouts[root_guid] = Layout(
            [
                piece_of(guid, str(text_of(scratch(guid))).encode(), scratch(guid).get_update())
                for guid in guids
            ]
        )
        self.owners.update(dict.fromkeys(guids, root_guid))

    def owner_of(self, guid: str, roots: Iterable[str]) -> str | None:
        """The root (among ``roots``) that lists chunk ``guid``, if any."""
        owner = self.owners.get(guid)
        if owner is not None:
            return owner
        for root_guid in roots:
            root = self.store.doc(root_guid)
            if root is not None and chunk_key(root.ydoc, root_guid, guid) is not None:
                self.owners[guid] = root_guid
                return root_guid
        return None

    def changed(self, root_guid: str, guid: str) -> None:
        """Chunk ``guid`` of ``root_guid`` changed other than through a save here."""
        layout = self.layouts.get(root_guid)
        if layout is not None:
            layout.dirty.add(guid)

    def content(
        self, root_guid: str, data: bytes | None, *, as_synced: bool = False
    ) -> tuple[bytes, list[Piece]]:
        """The bytes the file should hold, and their layout: unchanged chunks taken
        from ``data`` (the file as just read), the others from their docs.
        ``as_synced``: the file's stat shows it is what was last synced, so the
        layout's offsets are trusted without hashing it again."""
        root = self.store.doc(root_guid)
        if root is None:
            return b"", []
        layout = self._layout(root_guid, root)
        known = {piece.guid: piece for piece in layout.pieces}
        if data is None:
            found = {}
        elif as_synced and layout.written and len(data) == sum(p.size for p in layout.pieces):
            found = _offsets(layout.pieces)
        else:
            found = match(layout.pieces, data)
        parts: list[bytes | memoryview] = []
        pieces: list[Piece] = []
        view = memoryview(data) if data is not None else memoryview(b"")
        order = chunk_order(root.ydoc, root_guid)
        relisted = order != [piece.guid for piece in layout.pieces]
        for guid in order:
            where = found.get(guid)
            kept = None if where is None else self._kept(root_guid, known[guid], layout, relisted)
            if where is not None and kept is not None:
                parts.append(view[where[0] : where[1]])  # no copy until the join
                pieces.append(kept)
            else:
                piece, part = self._from_doc(root_guid, guid)
                parts.append(part)
                pieces.append(piece)
            self.owners[guid] = root_guid
        return b"".join(parts), pieces

    def plan(self, root_guid: str) -> list[Part] | None:
        """What the file should hold when it is as last synced: the unchanged chunks
        as byte ranges of it, the others as bytes from their docs (loaded). None if
        there is nothing to write or no layout yet (then ``content`` decides)."""
        root = self.store.doc(root_guid)
        layout = self.layouts.get(root_guid)
        if root is None or layout is None or not layout.written:
            return None
        offsets = _offsets(layout.pieces)
        known = {piece.guid: piece for piece in layout.pieces}
        order = chunk_order(root.ydoc, root_guid)
        changed = order != [piece.guid for piece in layout.pieces]
        relisted = changed
        parts: list[Part] = []
        for guid in order:
            kept = self._kept(root_guid, known[guid], layout, relisted) if guid in offsets else None
            if kept is not None:
                parts.append((kept, offsets[guid]))
            else:
                parts.append(self._from_doc(root_guid, guid))
                changed = True
            self.owners[guid] = root_guid
        return parts if changed else None

    def synced(self, root_guid: str, pieces: list[Piece]) -> None:
        """The file now holds ``pieces`` (as ``content`` returned them)."""
        self.layouts[root_guid] = Layout(pieces)

    async def save(self, root_guid: str, data: bytes) -> bool:
        """Turn a local save (``data``) into edits of the chunks it changed, merged
        with what peers changed since the file was last synced (see the module doc),
        and make the layout the saved file's: the chunks whose docs now differ from
        it are dirty, to be written. Returns False, changing nothing, only where no
        base is known for a chunk the save changed and a peer changed too."""
        root = self.store.doc(root_guid)
        if root is None:
            return False
        layout = self._layout(root_guid, root)
        found = match(layout.pieces, data)
        lead = len(_leading(layout.pieces, found))
        trail = len(_trailing(layout.pieces[lead:], found))
        begin = sum(piece.size for piece in layout.pieces[:lead])
        end = len(data) - sum(piece.size for piece in layout.pieces[len(layout.pieces) - trail :])
        return await self._merge(root_guid, layout, (lead, trail), data[begin:end], len(data))

    async def edit(self, root_guid: str, old: str, new: str) -> bool:
        """Edit the file's docs as they hold now, whose text is ``old``, so that they
        spell ``new``, as a local change (a collision loser's lines merged in,
        ``mirror.collisions``). The file on disk is not touched: the chunks changed
        are dirty in its layout, to be written. False, changing nothing, if the
        file's root doc is not here."""
        root = self.store.doc(root_guid)
        if root is None:
            return False
        layout = self._layout(root_guid, root)
        scratch = ScratchDocs(self.store)  # copies of the live docs
        chunked = ChunkedText(scratch(root_guid), root_guid, scratch,
                              max_bytes=self.chunking.chunk_bytes)  # fmt: skip
        for a0, a1, b0, b1 in reversed(changed_regions(old, new)):
            chunked.replace(a0, a1, new[b0:b1])
        self.owners.update(dict.fromkeys(chunked.order(), root_guid))
        layout.dirty.update(await scratch.store(root_guid))
        return True

    def written_pieces(self, root_guid: str) -> list[Piece] | None:
        """The layout of a file as written here (remote changes not yet written are
        fine: a save is merged with them): what a save can be scanned against
        (``chunkscan.scan_save``). None otherwise."""
        layout = self.layouts.get(root_guid)
        return layout.pieces if layout is not None and layout.written else None

    def pending(self, root_guid: str) -> bool:
        """Whether the file's docs hold changes its layout says are not written."""
        layout = self.layouts.get(root_guid)
        return layout is not None and bool(layout.dirty)

    async def save_scanned(
        self, root_guid: str, pieces: list[Piece], kept: tuple[int, int], changed: bytes
    ) -> bool:
        """Turn a save scanned against ``pieces`` (which ``written_pieces`` gave;
        ``chunkscan.scan_save``: the counts of unchanged leading and trailing pieces,
        and the bytes between) into edits of the chunks it changed, as ``save`` does,
        and make the layout the file's new one. Returns False, changing nothing, if
        the layout changed meanwhile, the changed bytes are not text, or ``save``
        would: the caller then reads the file whole."""
        layout = self.layouts.get(root_guid)
        if self.store.doc(root_guid) is None or layout is None or layout.pieces is not pieces:
            return False
        if decode_large_text(changed) is None:
            return False
        kept_bytes = sum(p.size for p in pieces[: kept[0]] + pieces[len(pieces) - kept[1] :])
        return await self._merge(root_guid, layout, kept, changed, kept_bytes + len(changed))

    async def _merge(
        self, root_guid: str, layout: Layout, kept: tuple[int, int], changed: bytes, size: int
    ) -> bool:
        """Replace the text of the layout's pieces between ``kept`` (the counts of
        unchanged leading and trailing pieces) by ``changed``, on scratch copies of
        the chunks at their bases, store the updates this makes (merged by the live
        docs with whatever they gained since), and make the layout the saved file's
        (of ``size`` bytes). False, changing nothing, where a replaced piece has no
        base (a layout from before roots kept one, whose chunk a peer changed)."""
        lead = layout.pieces[: kept[0]]
        middle = layout.pieces[kept[0] : len(layout.pieces) - kept[1]]
        if any(not self._has_base(root_guid, piece) for piece in middle):
            return False
        new = changed.decode()
        bases = {piece.guid: piece.base for piece in layout.pieces}
        scratch = ScratchDocs(self.store, bases, root_guid)
        texts = [str(text_of(scratch(piece.guid))) for piece in middle]
        old = "".join(texts)
        # The trail of a chunked file's saves, for a soak's report.
        log.debug("chunked file %s: a save replaces %d of its %d pieces (%d kept before, %d "
                  "after; %d characters by %d; layout %s)", root_guid, len(middle),
                  len(layout.pieces), kept[0], kept[1], len(old), len(new),
                  "as written" if layout.written else "rebuilt from its docs")  # fmt: skip
        if old == new:
            return True
        chunked = ChunkedText(
            scratch(root_guid),
            root_guid,
            scratch,
            max_bytes=self.chunking.chunk_bytes,
            lengths={piece.guid: piece.chars for piece in layout.pieces},
        )
        anchor = middle[0].guid if middle else lead[-1].guid if lead else None
        base = _position_of(chunked, anchor, after=not middle)
        erased = self._erased(middle, texts)
        for a0, a1, b0, b1 in reversed(changed_regions(old, new, erased)):
            chunked.replace(base + a0, base + a1, new[b0:b1])
        order = chunked.order()  # the file's chunks now: the scratch root's, not the live one's
        await scratch.store(root_guid)
        self.owners.update(dict.fromkeys(order, root_guid))
        self.layouts[root_guid] = self._saved_layout(root_guid, layout, scratch, order, size)
        return True

    def _erased(self, pieces: list[Piece], texts: list[str]) -> Erased:
        """What the live docs of ``pieces`` deleted since their bases (whose texts
        are ``texts``), at offsets in the text the pieces spell together: a line a
        save changed in place that a peer deleted is replaced whole, as in a
        one-doc file's save (``content.merge_save``)."""
        ranges: list[tuple[int, int]] = []
        offset = 0
        for piece, text in zip(pieces, texts, strict=True):
            live = self.store.doc(piece.guid)
            if live is not None and piece.base:
                erased = erased_since(piece.base, live.full_state())
                ranges += [(offset + start, offset + end) for start, end in erased]
            offset += len(text)
        return Erased.joined(ranges)

    def _saved_layout(
        self, root_guid: str, layout: Layout, scratch: ScratchDocs, order: list[str], size: int
    ) -> Layout:
        """The layout of the file a merged save left: each chunk the scratch docs
        hold with the text they give it (and their state as its base), the others as
        before; a chunk is dirty when its live doc now holds something else (a peer's
        change merged in), or when the file holds none of it (a peer's new chunk)."""
        known = {piece.guid: piece for piece in layout.pieces}
        dirty = set(layout.dirty)
        pieces: list[Piece] = []
        for guid in order:
            doc = scratch.docs.get(guid)
            if doc is None and guid in known:
                pieces.append(known[guid])
                continue
            text = str(text_of(doc)) if doc is not None else ""
            state = doc.get_update() if doc is not None else b""
            pieces.append(piece_of(guid, text.encode(), state))
            dirty.discard(guid)
            if guid not in known or self._chunk_text(guid) != text:
                dirty.add(guid)
        # Never expected to differ: then the docs no longer spell the file, and the
        # layout is rebuilt from them (and checked against the file) when next used.
        written = sum(piece.size for piece in pieces) == size
        return Layout(pieces, dirty, written=written)

    def _has_base(self, root_guid: str, piece: Piece) -> bool:
        """Whether a save of ``piece`` can be merged: it has a base, or it is empty,
        or it is a converted root's own text that no peer changed (then the live doc
        is one)."""
        if piece.base:
            return True
        if piece.guid != root_guid:
            return piece.size == 0
        return hashlib.sha256(self._chunk_text(root_guid).encode()).digest() == piece.digest

    def forget(self, root_guid: str) -> None:
        """Drop what is known of a file (it was deleted or replaced)."""
        self.layouts.pop(root_guid, None)

    def _layout(self, root_guid: str, root: DocReplica) -> Layout:
        """The file's layout: in memory, else the one its sync record keeps (with the
        chunks whose docs changed since marked dirty), else rebuilt from the docs."""
        layout = self.layouts.get(root_guid)
        if layout is not None:
            return layout
        order = chunk_order(root.ydoc, root_guid)
        self.owners.update(dict.fromkeys(order, root_guid))
        stored = self.stored(root_guid)
        if stored is not None:
            dirty = {
                piece.guid
                for piece in stored
                if hashlib.sha256(self._chunk_text(piece.guid).encode()).digest() != piece.digest
            }
            layout = Layout(stored, dirty)
        else:
            layout = Layout([self._from_doc(root_guid, g)[0] for g in order], written=False)
        self.layouts[root_guid] = layout
        return layout

    def _kept(self, root_guid: str, piece: Piece, layout: Layout, relisted: bool) -> Piece | None:
        """The record of a chunk whose bytes the file holds, if they are still its
        text (it is not dirty). A converted root's record is renewed when its chunk
        list is no longer the layout's (``relisted``): its base holds the list too,
        and a save's scratch copy of the root must list what the file shows; its bytes
        stay only if its doc's text is still theirs."""
        if piece.guid in layout.dirty:
            return None
        if not relisted or piece.guid != root_guid:
            return piece
        fresh, _ = self._from_doc(root_guid, piece.guid)
        return fresh if fresh.digest == piece.digest else None

    def _from_doc(self, root_guid: str, guid: str) -> tuple[Piece, bytes]:
        """The record of chunk ``guid`` as its doc holds it now (that state its base),
        and its bytes."""
        doc = self.store.doc(guid)
        if doc is None:
            return piece_of(guid, b""), b""
        data = doc.text(CONTENT).encode()
        return piece_of(guid, data, doc.full_state()), data

    def _chunk_text(self, guid: str) -> str:
        doc = self.store.doc(guid)
        return doc.text(CONTENT) if doc is not None else ""


def _offsets(pieces: list[Piece]) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    start = 0
    for piece in pieces:
        found[piece.guid] = (start, start + piece.size)
        start += piece.size
    return found


def _leading(pieces: list[Piece], found: dict[str, tuple[int, int]]) -> list[Piece]:
    lead: list[Piece] = []
    start = 0
    for piece in pieces:
        if found.get(piece.guid) != (start, start + piece.size):
            break
        lead.append(piece)
        start += piece.size
    return lead


def _trailing(pieces: list[Piece], found: dict[str, tuple[int, int]]) -> list[Piece]:
    trail: list[Piece] = []
    for piece in reversed(pieces):
        if piece.guid not in found:
            break
        trail.insert(0, piece)
    return trail


def _position_of(chunked: ChunkedText, anchor: str | None, *, after: bool) -> int:
    """The text position where chunk ``anchor`` starts (or ends, with ``after``)."""
    position = 0
    for guid in chunked.order():
        if guid == anchor:
            return position + (chunked.length(guid) if after else 0)
        position += chunked.length(guid)
    return 0
