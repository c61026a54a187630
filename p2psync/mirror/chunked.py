"""A large text stored as a root doc plus chunk docs (docs/decisions.md,
"Large docs as chunk subdocuments").

This module owns the split and nothing else: given a root doc and a way to get the
chunk docs, it reads the text in order, maps a text position to (chunk, offset), and
applies inserts and deletes at text positions, routing each to the chunk the rules
below name, closing full chunks and creating their successors. It does no I/O and
knows nothing of files, logs, peers or the event loop: the caller decides where chunk
docs come from (loaded from a log, created fresh) and ships the updates they make.

The format (docs/storage.md, "Chunked text docs"):

* the root doc holds a ``Y.Map`` ``chunks``: chunk guid -> order key ``[run, depth]``
  and a ``Y.Map`` ``closed``: chunk guid -> ``True``;
* each chunk doc holds the chunk's text as the ``Y.Text`` ``content``;
* the text is the concatenation of the chunks' texts, ordered by key, then guid;
* a root may list *itself* (its own guid, its own ``content``): a one-doc text that
  outgrew one doc is turned into a chunked text in place (``convert``), its text the
  first chunk, so not a character moves and a peer still editing it as one doc merges.

The rules that make concurrent splits and edits safe:

* **Content never moves.** A character stays in the chunk it was inserted into.
* **Closing, not cutting.** The last chunk, once an append would take its UTF-8 size
  past ``max_bytes``, takes the append's whole lines that fit and is closed (a map
  entry: closing twice is one write); appends to a closed chunk go to its successor.
* **Deterministic successors.** The successor of chunk ``C`` keyed ``[run, depth]``
  has guid ``successor_guid(root, C)`` and key ``[run, depth + 1]``: two peers that
  close ``C`` concurrently create the same chunk, which sorts right after ``C``.
* **Right-neighbour routing.** An insert goes just before the character that follows
  it, in that character's chunk, which is where Yjs puts it in one unsplit doc (past
  any deleted characters); only an insert at the very end of the text goes to the
  end of the last chunk (or its successor, if it is closed).

Positions and counts in this API are code points (Python ``str`` indices); chunk
``Text`` indices are UTF-8 byte offsets (see ``p2psync.mirror.textdiff``), converted
here, so an edit never splits a character.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pycrdt

CHUNKS = "chunks"
"""Name of the root doc's ``Y.Map``: chunk guid -> order key ``[run, depth]``."""
CLOSED = "closed"
"""Name of the root doc's ``Y.Map``: chunk guid -> ``True`` once the chunk is closed."""
CONTENT = "content"
"""Name of a chunk doc's ``Y.Text``."""
CHUNK_MAX_BYTES = 256 * 1024
"""UTF-8 size past which an append closes the last chunk (docs/decisions.md)."""
SEED_FILL = 0.5
"""Share of ``max_bytes`` the chunks of a new text are filled to, leaving room to grow."""

CHUNK_GUID = re.compile(r"c:[0-9a-f]{32}")
"""Every chunk guid has this form (``seed_guid``, ``successor_guid``); a root entry
naming anything else but the root itself (another file's doc, the manifest) is
ignored."""

YDoc = pycrdt.Doc[Any]
ChunkDoc = Callable[[str], YDoc]
"""Returns the chunk doc of a guid, loading or creating it."""
OrderKey = tuple[int, int]


def successor_guid(root_guid: str, chunk_guid: str) -> str:
    """The guid every peer gives the successor of ``chunk_guid`` in ``root_guid``."""
    digest = hashlib.sha256(f"{root_guid}\0{chunk_guid}\0next".encode()).hexdigest()
    return "c:" + digest[:32]


def seed_guid(root_guid: str, run: int) -> str:
    """The guid of the ``run``-th chunk a new chunked text is created with."""
    digest = hashlib.sha256(f"{root_guid}\0{run}\0seed".encode()).hexdigest()
    return "c:" + digest[:32]


def chunk_order(root: YDoc, root_guid: str) -> list[str]:
    """The chunk guids of ``root`` (the doc ``root_guid``) in text order. Entries that
    are neither a chunk guid nor the root itself, or lack a valid order key (a hostile
    or broken root), are left out rather than guessed at."""
    keyed: list[tuple[OrderKey, str]] = []
    for guid, value in _chunks(root).items():
        key = _order_key(value) if _may_be_chunk(root_guid, guid) else None
        if key is not None:
            keyed.append((key, guid))
    keyed.sort()
    return [guid for _, guid in keyed]


def chunk_key(root: YDoc, root_guid: str, guid: str) -> OrderKey | None:
    """The order key of chunk ``guid``, or None if the root does not list it (or
    lists something that is not a chunk)."""
    value = _chunks(root).get(guid) if _may_be_chunk(root_guid, guid) else None
    return None if value is None else _order_key(value)


def is_closed(root: YDoc, guid: str) -> bool:
    """Whether chunk ``guid`` takes no more inserts at its end."""
    return _closed(root).get(guid) is True


def split_for_seed(text: str, max_bytes: int) -> list[str]:
    """``text`` cut into pieces of at most ``max_bytes * SEED_FILL`` UTF-8 bytes (at
    least one code point each), preferring to cut after a line break. Pure."""
    budget = max(1, int(max_bytes * SEED_FILL))
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = start + _fitting_prefix(text[start:], budget)
        if end < len(text):
            newline = text.rfind("\n", start, end)
            if newline >= start + (end - start) // 2:
                end = newline + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def seed(root: YDoc, root_guid: str, chunk_doc: ChunkDoc, text: str, max_bytes: int) -> list[str]:
    """Fill a new, empty root with ``text``; return the chunk guids it created.

    Always creates at least one chunk, so an empty text still has a chunk to type into.
    Raises ValueError if the root already lists chunks: a text is never re-seeded over
    existing state (docs/mirror.md).
    """
    if len(_chunks(root)):
        raise ValueError(f"chunked doc {root_guid} already has chunks")
    pieces = split_for_seed(text, max_bytes) or [""]
    guids = [seed_guid(root_guid, run) for run in range(len(pieces))]
    with root.transaction():
        for run, guid in enumerate(guids):
            _chunks(root)[guid] = [run, 0]
    for guid, piece in zip(guids, pieces, strict=True):
        if piece:
            _text(chunk_doc(guid)).insert(0, piece)
    return guids


def convert(root: YDoc, root_guid: str) -> None:
    """Make the one-doc text ``root`` a chunked text in place: it lists itself as its
    first chunk (key ``[0, 0]``), so its text stays where it is, and appends past
    ``max_bytes`` go to successors by the usual rule. Converting twice, or on two
    peers at once, writes the same entry. Raises ValueError if the root already lists
    other chunks without itself (it was created chunked: its own text is not part of
    it)."""
    if chunk_key(root, root_guid, root_guid) is not None:
        return
    if len(_chunks(root)):
        raise ValueError(f"chunked doc {root_guid} was not a one-doc text")
    _chunks(root)[root_guid] = [0, 0]


def derived_keys(root_guid: str, guids: list[str]) -> dict[str, OrderKey] | None:
    """The order keys the chunks ``guids`` (a text's chunks, in text order) are listed
    with, found again from their guids alone, for a root that lost its list: every
    chunk guid is derived, so its key is too. The root itself is ``[0, 0]``
    (``convert``), the ``run``-th seed ``[run, 0]`` (``seed``), the successor of a
    chunk keyed ``[run, depth]`` ``[run, depth + 1]``. Any other guid, or keys that
    would not sort the chunks as given, give None: nothing is guessed. Pure."""
    seeds = {seed_guid(root_guid, run): run for run in range(len(guids))}
    keys: dict[str, OrderKey] = {}
    successors: dict[str, str] = {}
    for guid in guids:
        if guid == root_guid:
            key = (0, 0)
        elif guid in seeds:
            key = (seeds[guid], 0)
        elif guid in successors:
            run, depth = keys[successors[guid]]
            key = (run, depth + 1)
        else:
            return None
        keys[guid] = key
        successors[successor_guid(root_guid, guid)] = guid
    if sorted(guids, key=lambda guid: (keys[guid], guid)) != guids:
        return None
    return keys


def relist(root: YDoc, root_guid: str, keys: dict[str, OrderKey]) -> None:
    """List the chunks ``keys`` (``derived_keys``) in ``root`` again, each whose
    successor is among them closed (a successor is made only when its chunk closes):
    the entries every peer that kept the list holds, so the two merge as one."""
    with root.transaction():
        for guid, key in keys.items():
            _chunks(root)[guid] = list(key)
        for guid in keys:
            if successor_guid(root_guid, guid) in keys:
                _closed(root)[guid] = True


class ChunkedText:
    """Edits of one chunked text: its root, its chunk docs, and the code-point length
    of each chunk, loaded only for the chunks an operation has to look into.

    ``lengths`` may be given by a caller that knows them (the mirror remembers what it
    last wrote), so that locating a position does not load every chunk before it;
    missing lengths are read from the chunk doc. Lengths become stale when a chunk
    changes elsewhere: call ``forget`` for such a chunk (or build a new object).
    """

    def __init__(
        self,
        root: YDoc,
        root_guid: str,
        chunk_doc: ChunkDoc,
        *,
        max_bytes: int = CHUNK_MAX_BYTES,
        lengths: dict[str, int] | None = None,
    ) -> None:
        self.root = root
        self.root_guid = root_guid
        self.max_bytes = max_bytes
        self._chunk_doc = chunk_doc
        self._lengths: dict[str, int] = dict(lengths or {})

    # -- reading ------------------------------------------------------------------------

    def order(self) -> list[str]:
        """Chunk guids in text order."""
        return chunk_order(self.root, self.root_guid)

    def chunk_text(self, guid: str) -> str:
        """The text of one chunk (loads it); refreshes its remembered length."""
        text = str(_text(self._chunk_doc(guid)))
        self._lengths[guid] = len(text)
        return text

    def texts(self) -> Iterator[tuple[str, str]]:
        """``(guid, text)`` of every chunk in order, loading each in turn."""
        for guid in self.order():
            yield guid, self.chunk_text(guid)

    def text(self) -> str:
        """The whole text (loads every chunk)."""
        return "".join(text for _, text in self.texts())

    def length(self, guid: str) -> int:
        """Code-point length of a chunk, from memory if known."""
        known = self._lengths.get(guid)
        return len(self.chunk_text(guid)) if known is None else known

    def lengths(self) -> dict[str, int]:
        """The chunk lengths known so far (a copy)."""
        return dict(self._lengths)

    def forget(self, guid: str) -> None:
        """Drop a chunk's remembered length (it changed elsewhere)."""
        self._lengths.pop(guid, None)

    def locate(self, position: int) -> tuple[str, int]:
        """The chunk and code-point offset an insert at text ``position`` goes to.

        Right-neighbour routing: the chunk holding character ``position``, just before
        it; the end of the text is the end of the last chunk, or the start of its
        successor if it is closed. Creates nothing: a successor that does not exist
        yet is named all the same. Raises IndexError if ``position`` is outside
        ``0..len(text)``.
        """
        guid, offset = self._right(position)
        while offset == self._length_or_zero(guid) and is_closed(self.root, guid):
            guid, offset = successor_guid(self.root_guid, guid), 0
        return guid, offset

    # -- editing ------------------------------------------------------------------------

    def insert(self, position: int, text: str) -> list[str]:
        """Insert ``text`` at code-point ``position``; return the chunks it changed.

        Inside the text, the whole insert goes before the character at ``position``,
        in that character's chunk. At the end of the text it fills the last chunk up to
        ``max_bytes``, closes it, and carries on in its successor (listed in the root
        if missing), and so on. Raises IndexError if ``position`` is outside
        ``0..len(text)``.
        """
        if not text:
            return []
        guid, offset = self._right(position)
        touched: list[str] = []
        rest = text
        while rest:
            size = self.length(guid)
            if offset == size and is_closed(self.root, guid):
                guid, offset = self._successor(guid), 0
                continue
            piece = rest if offset < size else rest[: self._room(guid, rest)]
            if piece:
                self._insert_in(guid, offset, piece)
                touched.append(guid)
            rest = rest[len(piece) :]
            if rest:
                self._close(guid)
                guid, offset = self._successor(guid), 0
        return touched

    def delete(self, position: int, count: int) -> list[str]:
        """Delete ``count`` code points from ``position``; return the chunks changed.
        Raises IndexError if the range passes the end of the text."""
        if count <= 0:
            return []
        end = position + count
        before = 0
        touched: list[str] = []
        for guid in self.order():
            size = self.length(guid)
            start, stop = max(position, before), min(end, before + size)
            if start < stop:
                self._delete_in(guid, start - before, stop - before)
                touched.append(guid)
            before += size
            if before >= end:
                return touched
        raise IndexError(f"range {position}+{count} outside chunked doc {self.root_guid}")

    def replace(self, start: int, stop: int, text: str) -> list[str]:
        """Replace code points ``start:stop`` by ``text``; return the chunks changed."""
        touched = self.delete(start, stop - start)
        for guid in self.insert(start, text):
            if guid not in touched:
                touched.append(guid)
        return touched

    # -- internals ----------------------------------------------------------------------

    def _room(self, guid: str, text: str) -> int:
        """How many code points of ``text`` go at the end of ``guid``: all that fit, or,
        if not all do, the whole lines that fit, so the chunk is closed at a line's
        end (else as many code points as fit; at least one if the chunk is empty, so
        a character wider than the limit still goes in). A chunk closed inside a
        line would let a concurrent insert at its end land in the middle of it."""
        used = len(self.chunk_text(guid).encode())
        fits = _fitting_prefix(text, max(0, self.max_bytes - used))
        if fits < len(text):
            fits = text.rfind("\n", 0, fits) + 1 or fits
        return fits if fits or used else 1

    def _right(self, position: int) -> tuple[str, int]:
        """The chunk holding character ``position`` and its offset there; the end of
        the text is ``(last chunk, its length)``."""
        order = self.order()
        if position < 0 or not order:
            raise IndexError(f"position {position} outside chunked doc {self.root_guid}")
        before = 0
        for guid in order:
            size = self.length(guid)
            if position < before + size:
                return guid, position - before
            before += size
        if position == before:
            return order[-1], self.length(order[-1])
        raise IndexError(f"position {position} outside chunked doc {self.root_guid}")

    def _successor(self, guid: str) -> str:
        """The successor of listed chunk ``guid``, listed in the root if it was not."""
        successor = successor_guid(self.root_guid, guid)
        if chunk_key(self.root, self.root_guid, successor) is None:
            key = chunk_key(self.root, self.root_guid, guid)
            if key is None:
                raise KeyError(f"chunk {guid} is not in chunked doc {self.root_guid}")
            _chunks(self.root)[successor] = [key[0], key[1] + 1]
        return successor

    def _length_or_zero(self, guid: str) -> int:
        return self.length(guid) if chunk_key(self.root, self.root_guid, guid) is not None else 0

    def _close(self, guid: str) -> None:
        if not is_closed(self.root, guid):
            _closed(self.root)[guid] = True

    def _insert_in(self, guid: str, offset: int, piece: str) -> None:
        current = self.chunk_text(guid)
        _text(self._chunk_doc(guid)).insert(_utf8_len(current[:offset]), piece)
        self._lengths[guid] = len(current) + len(piece)

    def _delete_in(self, guid: str, start: int, stop: int) -> None:
        current = self.chunk_text(guid)
        first = _utf8_len(current[:start])
        last = first + _utf8_len(current[start:stop])
        del _text(self._chunk_doc(guid))[first:last]
        self._lengths[guid] = len(current) - (stop - start)


def _may_be_chunk(root_guid: str, guid: str) -> bool:
    return guid == root_guid or CHUNK_GUID.fullmatch(guid) is not None


def _chunks(root: YDoc) -> pycrdt.Map[Any]:
    chunks: pycrdt.Map[Any] = root.get(CHUNKS, type=pycrdt.Map)
    return chunks


def _closed(root: YDoc) -> pycrdt.Map[Any]:
    closed: pycrdt.Map[Any] = root.get(CLOSED, type=pycrdt.Map)
    return closed


def _text(doc: YDoc) -> pycrdt.Text:
    text: pycrdt.Text = doc.get(CONTENT, type=pycrdt.Text)
    return text


def _order_key(value: object) -> OrderKey | None:
    if not isinstance(value, list) or len(value) != 2:
        return None
    run, depth = value
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (run, depth)):
        return None
    if run != int(run) or depth != int(depth) or run < 0 or depth < 0:
        return None
    return int(run), int(depth)


def _fitting_prefix(text: str, budget: int) -> int:
    """The number of leading code points of ``text`` whose UTF-8 size is <= budget."""
    if len(text) * 4 <= budget or len(text.encode()) <= budget:
        return len(text)
    low, high = 0, min(len(text), budget)
    while low < high:
        middle = (low + high + 1) // 2
        if len(text[:middle].encode()) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _utf8_len(text: str) -> int:
    return len(text.encode())
