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
            if own is not None and own[0] <= held:
                held = max(held, own[1])
            if needed > held:
                return True
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
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:
            self.pos = pos + 1
            return data[pos]
        result = shift = 0
        while True:
            if pos >= len(data):
                raise MalformedYjsError("data ends inside a number")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 49:
                raise MalformedYjsError("number longer than 8 bytes")
        self.pos = pos
        if result > MAX_CLIENT:
            raise MalformedYjsError(f"number {result} is over 2**53 - 1")
        return result

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
    the update (``bench/bench_validate.py``).
    """
    shape = _scan_typed_text(update)
    if shape is not None:
        return shape
    reader = _Reader(update)
    shape = UpdateShape()
    for _ in range(reader.count()):
        _struct_group(reader, shape)
    needs = shape.needs
    for _ in range(reader.count()):
        client = reader.varuint()
        for _ in range(reader.count()):
            clock = reader.varuint()
            end = clock + reader.varuint()
            if end > MAX_CLOCK:
                raise MalformedYjsError(f"a delete of client {client} goes past clock {MAX_CLOCK}")
            if end > needs.get(client, 0):
                needs[client] = end
    if reader.pos != len(update):
        raise MalformedYjsError("trailing bytes after the update")
    return shape


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
        pos, ref_client = _uint(update, pos + 1)
        pos, ref_clock = _uint(update, pos)
        needs = {ref_client: ref_clock + 1}
        if info & _RIGHT_ORIGIN:
            pos, right_client = _uint(update, pos)
            pos, right_clock = _uint(update, pos)
            if right_clock >= needs.get(right_client, 0):
                needs[right_client] = right_clock + 1
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
    if data[pos + 1] < 0x80:
        return pos + 2, (byte & 0x7F) | data[pos + 1] << 7
    reader = _Reader(data)
    reader.pos = pos
    value = reader.varuint()
    return reader.pos, value


def _struct_group(reader: _Reader, shape: UpdateShape) -> None:
    """One client's structs: their clock range, and what their items refer to."""
    structs = reader.count()
    client = reader.varuint()
    clock = start = reader.varuint()
    if client in shape.ranges:
        raise MalformedYjsError(f"client {client} has two struct groups")
    if not structs:  # Yrs panics on an empty group of a client it knows
        raise MalformedYjsError(f"client {client} has an empty struct group")
    needs = shape.needs
    for _ in range(structs):
        info = reader.byte()
        kind = info & _CONTENT
        if kind in (_GC, _SKIP):
            length = reader.varuint()
            shape.skips = shape.skips or kind == _SKIP
        else:
            if info & _ORIGIN:
                _need(needs, reader.varuint(), reader.varuint())
            if info & _RIGHT_ORIGIN:
                _need(needs, reader.varuint(), reader.varuint())
            if not info & (_ORIGIN | _RIGHT_ORIGIN):
                _parent(reader, needs, info)
            length = _content(reader, kind)
        if length == 0:
            raise MalformedYjsError(f"an empty struct at clock {clock} of client {client}")
        clock += length
    if clock > MAX_CLOCK:
        raise MalformedYjsError(f"client {client} goes past clock {MAX_CLOCK}")
    shape.ranges[client] = (start, clock)


def _need(needs: dict[int, int], client: int, clock: int) -> None:
    if clock >= needs.get(client, 0):
        needs[client] = clock + 1


def _parent(reader: _Reader, needs: dict[int, int], info: int) -> None:
    """An item without origins names its parent: a root type's name or an item ID."""
    named = reader.varuint()
    if named == 1:
        reader.string()
    elif named == 0:
        _need(needs, reader.varuint(), reader.varuint())
    else:
        raise MalformedYjsError(f"bad parent kind {named}")
    if info & _PARENT_SUB:
        reader.string()


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
