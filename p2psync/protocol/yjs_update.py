"""The shape of a Yjs v1 update, read without pycrdt. Pure.

pycrdt (Yrs) refuses most malformed updates with a ValueError, but some well-formed-
looking ones make it panic (``PanicException``) and leave the Doc unusable, and some it
integrates although they claim clocks we never received (a gap), which would make a
replica's state vector lie. ``scan_update`` reads every struct and the delete set of an
update, checks what Yrs relies on, and reports what the update covers and what it
depends on, so the caller can refuse it or ask for the missing part before any live
Doc sees it.

Checks (each failure is a MalformedYjsError):

- the v1 layout, read to the last byte: struct groups, each struct, the delete set;
- every struct group, struct and piece of content is at least one clock long (Yrs panics
  on an empty string, or an empty group, from a known client);
- clocks end below 2**32 (Yrs keeps clocks as u32 and panics past them); client IDs are
  at most 2**53 - 1;
- content types 1-9 and type references 0-6 only; strings are UTF-8; ``Any`` values
  nest at most MAX_ANY_DEPTH deep; every count is bounded by the bytes left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from p2psync.errors import MalformedYjsError

MAX_CLOCK = 2**32 - 1
"""Yrs stores clocks as u32: a struct must end at or below this clock."""
MAX_CLIENT = 2**53 - 1
MAX_ANY_DEPTH = 64
"""Nesting of ``Any`` arrays and objects (JSON-like content of maps and arrays)."""

_ORIGIN = 0x80
_RIGHT_ORIGIN = 0x40
_PARENT_SUB = 0x20
_CONTENT = 0x1F
_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)
_NAMED_TYPES = (3, 5)  # XmlElement and XmlHook carry a name
_MAX_TYPE_REF = 6


@dataclass(slots=True)
class UpdateShape:
    """What one update holds and needs, per client.

    ``ranges`` maps a client to the ``[start, end)`` clocks of its structs in the update;
    ``needs`` maps a client to one past the highest clock the update refers to (item
    origins and parents) or deletes; ``skips`` is True if the update leaves holes of
    its own (a merge of non-contiguous updates).
    """

    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    needs: dict[int, int] = field(default_factory=dict)
    skips: bool = False
    internal: bool = False
    """Set by ``missing``: something the update needs is found only in the update
    itself, under another client. Yrs may then leave structs pending (a cycle), so
    the caller compares the doc's state vector with ``advance`` after applying."""

    def missing(self, state: dict[int, int]) -> bool:
        """True if applying this update to a replica at state vector ``state`` needs
        something the replica does not hold: a struct group starting past its clock,
        a reference or delete past what it holds after this update, or a skip."""
        if self.skips:
            return True
        for client, (start, _) in self.ranges.items():
            if start > state.get(client, 0):
                return True
        for client, needed in self.needs.items():
            held = state.get(client, 0)
            own = self.ranges.get(client)
            if needed <= held:
                continue
            if own is None or own[0] > held or needed > own[1]:
                return True
            self.internal = True
        return False

    def advance(self, state: dict[int, int]) -> None:
        """Update ``state`` in place to what a replica holds after applying this update
        (call only when ``missing(state)`` is False)."""
        for client, (_, end) in self.ranges.items():
            if end > state.get(client, 0):
                state[client] = end


class _Reader:
    """lib0 decoding over bytes, raising MalformedYjsError on anything out of bounds."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varuint(self) -> int:
        try:
            self.pos, value = _uint(self.data, self.pos)
        except IndexError:
            raise MalformedYjsError("data ends inside a number") from None
        return value

    def varint(self) -> None:
        """Skip a lib0 signed variable-length integer."""
        for _ in range(10):
            if self.byte() < 0x80:
                return
        raise MalformedYjsError("signed number longer than 10 bytes")

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise MalformedYjsError("data ends inside a struct")
        self.pos += 1
        return self.data[self.pos - 1]

    def skip(self, count: int) -> None:
        if count > len(self.data) - self.pos:
            raise MalformedYjsError("data ends inside a field")
        self.pos += count

    def count(self) -> int:
        """A count of things that take at least one byte each: at most the bytes left."""
        value = self.varuint()
        if value > len(self.data) - self.pos:
            raise MalformedYjsError(f"a count of {value} is more than the bytes left")
        return value

    def string(self) -> str:
        length = self.varuint()
        start = self.pos
        self.skip(length)
        try:
            return self.data[start : self.pos].decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedYjsError("a string is not UTF-8") from None

    def any(self, depth: int = 0) -> None:
        """Skip one lib0 ``Any`` value."""
        if depth > MAX_ANY_DEPTH:
            raise MalformedYjsError(f"values nested more than {MAX_ANY_DEPTH} deep")
        tag = self.byte()
        if tag in (127, 126, 121, 120):  # undefined, null, false, true
            return
        if tag == 125:
            self.varint()
        elif tag == 124:
            self.skip(4)
        elif tag in (123, 122):
            self.skip(8)
        elif tag == 119:
            self.string()
        elif tag == 118:
            for _ in range(self.count()):
                self.string()
                self.any(depth + 1)
        elif tag == 117:
            for _ in range(self.count()):
                self.any(depth + 1)
        elif tag == 116:
            self.skip(self.varuint())
        else:
            raise MalformedYjsError(f"unknown value tag {tag}")


def scan_update(update: bytes) -> UpdateShape:
    """Read every part of Yjs v1 ``update``; raise MalformedYjsError if it is not one
    that Yrs can integrate safely (see the module docstring).

    This runs on every update a peer sends; its cost is measured against applying
    the update (``bench/bench_validate.py``), hence the inlined one-byte numbers.
    """
    shape = _scan_typed_text(update)
    if shape is not None:
        return shape
    try:
        return _scan(update)
    except IndexError:
        raise MalformedYjsError("the update ends inside a struct") from None


def _scan(data: bytes) -> UpdateShape:
    """The general scan; IndexError when the data ends early."""
    shape = UpdateShape()
    pos, groups = _count(data, 0)
    for _ in range(groups):
        pos = _struct_group(data, pos, shape)
    needs = shape.needs
    pos, clients = _count(data, pos)
    for _ in range(clients):
        pos, client = _uint(data, pos)
        pos, count = _count(data, pos)
        top = needs.get(client, 0)
        for _ in range(count):
            byte = data[pos]
            if byte < 0x80:
                clock, pos = byte, pos + 1
            else:
                pos, clock = _uint(data, pos)
            byte = data[pos]
            if byte < 0x80:
                length, pos = byte, pos + 1
            else:
                pos, length = _uint(data, pos)
            top = max(top, clock + length)
        if top > MAX_CLOCK:
            raise MalformedYjsError(f"a delete of client {client} goes past clock {MAX_CLOCK}")
        if top:
            needs[client] = top
    if pos != len(data):
        raise MalformedYjsError("trailing bytes after the update")
    return shape


def _struct_group(data: bytes, pos: int, shape: UpdateShape) -> int:
    """One client's structs: their clock range, and what their items refer to.
    Returns the position after the group."""
    pos, structs = _count(data, pos)
    pos, client = _uint(data, pos)
    pos, clock = _uint(data, pos)
    start = clock
    if client in shape.ranges:
        raise MalformedYjsError(f"client {client} has two struct groups")
    if not structs:  # Yrs panics on an empty group of a client it knows
        raise MalformedYjsError(f"client {client} has an empty struct group")
    needs = shape.needs
    for _ in range(structs):
        info = data[pos]
        pos += 1
        kind = info & _CONTENT
        if kind in (_GC, _SKIP):
            pos, length = _uint(data, pos)
            shape.skips = shape.skips or kind == _SKIP
        else:
            pos, length = _item(data, pos, info, needs, (client, clock, start))
        if length == 0:
            raise MalformedYjsError(f"an empty struct at clock {clock} of client {client}")
        clock += length
    if clock > MAX_CLOCK:
        raise MalformedYjsError(f"client {client} goes past clock {MAX_CLOCK}")
    shape.ranges[client] = (start, clock)
    return pos


def _item(
    data: bytes, pos: int, info: int, needs: dict[int, int], struct: tuple[int, int, int]
) -> tuple[int, int]:
    """(position after, clock length) of an item: origins, parent, content. The usual
    item (text or a deletion placed by its origins) is read without the _Reader.
    ``struct`` is (client, clock, group start) of the item, for ``_refer``."""
    for flag in (_ORIGIN, _RIGHT_ORIGIN):
        if info & flag:
            pos, ref_client = _uint(data, pos)
            pos, ref_clock = _uint(data, pos)
            _refer(needs, struct, ref_client, ref_clock)
    kind = info & _CONTENT
    if not info & (_ORIGIN | _RIGHT_ORIGIN):
        return _parent_and_content(data, pos, needs, info, struct)
    if kind == _STRING:
        return _ascii_or_string(data, pos)
    if kind == _DELETED:
        return _uint(data, pos)
    return _parent_and_content(data, pos, needs, info, struct)


def _refer(needs: dict[int, int], struct: tuple[int, int, int], client: int, clock: int) -> None:
    """Record that the item ``struct`` refers to ``(client, clock)``. An item of the same
    client can only refer to an earlier one (Yrs leaves a cycle pending forever); one
    in the same group is in the update, not needed from the replica."""
    own_client, own_clock, start = struct
    if client == own_client:
        if clock >= own_clock:
            raise MalformedYjsError(f"an item of client {client} refers to itself or later")
        if clock >= start:
            return
    if clock >= needs.get(client, 0):
        needs[client] = clock + 1


def _parent_and_content(
    data: bytes, pos: int, needs: dict[int, int], info: int, struct: tuple[int, int, int]
) -> tuple[int, int]:
    """(position after, clock length) of an item's parent (if it names one) and content."""
    reader = _Reader(data)
    reader.pos = pos
    if not info & (_ORIGIN | _RIGHT_ORIGIN):
        parent = _parent(reader, info)
        if parent is not None:
            _refer(needs, struct, *parent)
    length = _content(reader, info & _CONTENT)
    return reader.pos, length


def _ascii_or_string(data: bytes, pos: int) -> tuple[int, int]:
    """(position after, length in UTF-16 units) of the string content at ``pos``."""
    pos, size = _uint(data, pos)
    end = pos + size
    if end > len(data):
        raise MalformedYjsError("data ends inside a string")
    chunk = data[pos:end]
    if chunk.isascii():
        return end, size
    try:
        return end, len(chunk.decode("utf-8").encode("utf-16-le")) // 2
    except UnicodeDecodeError:
        raise MalformedYjsError("a string is not UTF-8") from None


def _count(data: bytes, pos: int) -> tuple[int, int]:
    """A count of things of at least one byte each: at most the bytes left."""
    pos, value = _uint(data, pos)
    if value > len(data) - pos:
        raise MalformedYjsError(f"a count of {value} is more than the bytes left")
    return pos, value


def _scan_typed_text(update: bytes) -> UpdateShape | None:
    """The shape of the commonest update, one item of ASCII text typed next to
    another, or None if ``update`` is anything else (``scan_update`` reads it then).

    A live update from someone typing is one such item; reading it without the
    general machinery keeps the check well under the cost of applying it.
    """
    size = len(update)
    if size < 8 or update[0] != 1 or update[1] != 1 or update[-1] != 0:
        return None  # not one struct group of one struct, with an empty delete set
    try:
        pos, client = _uint(update, 2)
        pos, clock = _uint(update, pos)
        info = update[pos]
        if info & _CONTENT != _STRING or not info & _ORIGIN:
            return None
        needs: dict[int, int] = {}
        pos, ref_client = _uint(update, pos + 1)
        pos, ref_clock = _uint(update, pos)
        _refer(needs, (client, clock, clock), ref_client, ref_clock)
        if info & _RIGHT_ORIGIN:
            pos, ref_client = _uint(update, pos)
            pos, ref_clock = _uint(update, pos)
            _refer(needs, (client, clock, clock), ref_client, ref_clock)
        length = update[pos]
        end = pos + 1 + length
    except IndexError:
        return None
    if not 0 < length < 0x80 or end != size - 1 or not update[pos + 1 : end].isascii():
        return None
    if clock + length > MAX_CLOCK:
        raise MalformedYjsError(f"client {client} goes past clock {MAX_CLOCK}")
    return UpdateShape({client: (clock, clock + length)}, needs)


def _uint(data: bytes, pos: int) -> tuple[int, int]:
    """(position after, value) of the lib0 varuint at ``pos``; IndexError past the end,
    MalformedYjsError for a number over 2**53 - 1."""
    byte = data[pos]
    if byte < 0x80:
        return pos + 1, byte
    result = byte & 0x7F
    shift = 7
    while True:
        pos += 1
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift > 49:
            raise MalformedYjsError("number longer than 8 bytes")
    if result > MAX_CLIENT:
        raise MalformedYjsError(f"number {result} is over 2**53 - 1")
    return pos + 1, result


def _parent(reader: _Reader, info: int) -> tuple[int, int] | None:
    """An item without origins names its parent: a root type's name, or the ID of the
    item holding its type (returned)."""
    named = reader.varuint()
    parent: tuple[int, int] | None = None
    if named == 1:
        reader.string()
    elif named == 0:
        parent = (reader.varuint(), reader.varuint())
    else:
        raise MalformedYjsError(f"bad parent kind {named}")
    if info & _PARENT_SUB:
        reader.string()
    return parent


def _content(reader: _Reader, kind: int) -> int:
    """Read an item's content; return its length in clocks."""
    read = _CONTENT_READERS.get(kind)
    if read is None:
        raise MalformedYjsError(f"unknown content type {kind}")
    return read(reader)


def _string(reader: _Reader) -> int:
    text = reader.string()
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _strings(reader: _Reader) -> int:
    count = reader.count()
    for _ in range(count):
        reader.string()
    return count


def _anys(reader: _Reader) -> int:
    count = reader.count()
    for _ in range(count):
        reader.any()
    return count


def _type(reader: _Reader) -> int:
    ref = reader.varuint()
    if ref > _MAX_TYPE_REF:
        raise MalformedYjsError(f"unknown type reference {ref}")
    if ref in _NAMED_TYPES:
        reader.string()
    return 1


def _one(*parts: Callable[[_Reader], object]) -> Callable[[_Reader], int]:
    """Content of length 1 made of ``parts`` read in order."""

    def read(reader: _Reader) -> int:
        for part in parts:
            part(reader)
        return 1

    return read


_CONTENT_READERS: dict[int, Callable[[_Reader], int]] = {
    _STRING: _string,
    _DELETED: _Reader.varuint,
    _JSON: _strings,
    _BINARY: _one(lambda reader: reader.skip(reader.varuint())),
    _EMBED: _one(_Reader.string),
    _FORMAT: _one(_Reader.string, _Reader.string),
    _TYPE: _type,
    _ANY: _anys,
    _DOC: _one(_Reader.string, _Reader.any),
}
