"""Splitting a Yjs v1 update into smaller updates that each fit a frame. Pure.

A doc's state can be larger than the largest frame (``frames.MAX_FRAME_BYTES``); the
sync engine then sends it as several updates. A receiver refuses an update that
depends on clocks it does not hold (``replica.validate``), so the pieces are valid
updates in an order where each one depends only on what the receiver held before the
whole update plus the pieces before it:

- structs are taken per client in clock order, and a struct waits until every item it
  refers to (origin, right origin, parent) that the update itself brings is taken;
- a string item larger than the room left in a piece is cut at a UTF-8 character
  boundary, as Yjs cuts items: the second part's origin is the first part's last
  character, its right origin the item's own;
- the delete set comes last, since it may delete items of any piece: in the last piece
  if it fits, else in struct-less pieces of its own, split between ranges.

Any subset of an update's structs plus any part of its delete set is a valid update, so
the pieces applied in order integrate exactly what the whole update does (docs/protocol.md
§7, "Docs larger than a frame").
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

from p2psync.errors import MalformedYjsError
from p2psync.protocol.yjs import _varuint as varuint
from p2psync.protocol.yjs_update import (
    _CONTENT,
    _GC,
    _ORIGIN,
    _RIGHT_ORIGIN,
    _SKIP,
    _STRING,
    _count,
    _item,
    _parent,
    _Reader,
    _uint,
)

_GROUP_BYTES = 30
"""At most the bytes of one struct group's header: three varuints (count, client, clock)."""
_HEADER_BYTES = 10
"""At most the bytes of a piece's group count plus an empty delete set."""
_MIN_CUT_BYTES = 64
"""Room below which a string is not cut: the next piece takes it."""


@dataclass(slots=True)
class _Struct:
    """One struct of an update: its clocks, its encoding (from the info byte on), and
    the clocks it needs held first, as (client, one past the clock it refers to)."""

    clock: int
    length: int
    body: bytes
    needs: tuple[tuple[int, int], ...]
    head: bytes = b""
    """For a string item: its encoding before the string (info, origins, parent)."""
    right: bytes = b""
    """For a string item: its right origin as encoded (client, clock), if it has one."""
    text: bytes | None = None
    """For a string item: the string's UTF-8 bytes (it may be cut); None otherwise."""


def split_update(update: bytes, max_bytes: int) -> list[bytes]:
    """``update`` as updates of at most ``max_bytes`` each, to be applied in order.

    An update that fits is returned as is. A struct that cannot be cut (any content but
    a string) and is larger than ``max_bytes`` on its own is a piece of its own, larger
    than ``max_bytes``: the caller checks what it sends. If the update's items refer to
    each other in a cycle (a hostile update: Yjs never makes one), the rest is taken in
    client order; a receiver then refuses those pieces as it would the whole update.

    Raises MalformedYjsError if ``update`` is not a well-formed Yjs v1 update.
    """
    if len(update) <= max_bytes:
        return [update]
    try:
        groups, pos = _parse_structs(update)
        ranges = _parse_delete_set(update, pos)
    except IndexError:
        raise MalformedYjsError("the update ends inside a struct") from None
    pieces = _Pieces(max_bytes)
    _take_in_order(groups, pieces)
    pieces.finish(update[pos:], ranges)
    return pieces.done


def _parse_structs(data: bytes) -> tuple[dict[int, list[_Struct]], int]:
    """Every struct of ``data`` by client, and the position of the delete set."""
    groups: dict[int, list[_Struct]] = {}
    pos, count = _count(data, 0)
    for _ in range(count):
        pos, structs = _count(data, pos)
        pos, client = _uint(data, pos)
        pos, clock = _uint(data, pos)
        if client in groups or not structs:
            raise MalformedYjsError(f"client {client} has two struct groups or an empty one")
        start, parsed = clock, groups.setdefault(client, [])
        for _ in range(structs):
            struct, pos = _parse_struct(data, pos, (client, clock, start))
            parsed.append(struct)
            clock += struct.length
    return groups, pos


def _parse_struct(data: bytes, pos: int, where: tuple[int, int, int]) -> tuple[_Struct, int]:
    """The struct at ``pos`` (``where`` is its client, clock and group start, as
    ``yjs_update._item`` takes it) and the position after it."""
    begin, info = pos, data[pos]
    kind = info & _CONTENT
    needs: dict[int, int] = {}
    if kind in (_GC, _SKIP):
        pos, length = _uint(data, pos + 1)
    else:
        pos, length = _item(data, pos + 1, info, needs, where)
    if length == 0:
        raise MalformedYjsError(f"an empty struct at clock {where[1]} of client {where[0]}")
    struct = _Struct(where[1], length, data[begin:pos], tuple(needs.items()))
    if kind == _STRING:
        struct.head, struct.right, struct.text = _string_parts(data, begin)
    return struct, pos


def _string_parts(data: bytes, pos: int) -> tuple[bytes, bytes, bytes]:
    """(head, right origin, UTF-8 string) of the string item at ``pos``."""
    info, at = data[pos], pos + 1
    right = b""
    if info & _ORIGIN:
        at = _uint(data, _uint(data, at)[0])[0]
    if info & _RIGHT_ORIGIN:
        mark, at = at, _uint(data, _uint(data, at)[0])[0]
        right = data[mark:at]
    if not info & (_ORIGIN | _RIGHT_ORIGIN):
        reader = _Reader(data)
        reader.pos = at
        _parent(reader, info)
        at = reader.pos
    start, size = _uint(data, at)
    return data[pos:at], right, data[start : start + size]


def _parse_delete_set(data: bytes, pos: int) -> list[tuple[int, list[bytes]]]:
    """The delete set at ``pos`` as (client, its encoded (clock, length) ranges)."""
    ranges: list[tuple[int, list[bytes]]] = []
    pos, clients = _count(data, pos)
    for _ in range(clients):
        pos, client = _uint(data, pos)
        pos, count = _count(data, pos)
        encoded = []
        for _ in range(count):
            mark = pos
            pos = _uint(data, _uint(data, pos)[0])[0]
            encoded.append(data[mark:pos])
        ranges.append((client, encoded))
    if pos != len(data):
        raise MalformedYjsError("trailing bytes after the update")
    return ranges


def _take_in_order(groups: dict[int, list[_Struct]], pieces: _Pieces) -> None:
    """Hand every struct to ``pieces`` in an order where each comes after the structs
    of the update it refers to. A client whose next struct waits for another client's
    clock is parked until that clock is taken."""
    ends = {client: s[-1].clock + s[-1].length for client, s in groups.items()}
    held = {client: s[0].clock for client, s in groups.items()}
    taken = dict.fromkeys(groups, 0)
    waiting: dict[int, list[tuple[int, int]]] = {}
    ready = deque(groups)
    while ready:
        client = ready.popleft()
        structs, index = groups[client], taken[client]
        while index < len(structs):
            struct = structs[index]
            # A reference past what the update brings of that client is a gap the
            # receiver judges, as it would for the whole update: it does not order.
            blocker = next(((c, need) for c, need in struct.needs
                            if c in ends and held[c] < need <= ends[c]), None)  # fmt: skip
            if blocker is not None:
                heapq.heappush(waiting.setdefault(blocker[0], []), (blocker[1], client))
                break
            pieces.take(client, struct)
            index += 1
            held[client] = struct.clock + struct.length
            parked = waiting.get(client)
            while parked and parked[0][0] <= held[client]:
                ready.append(heapq.heappop(parked)[1])
        taken[client] = index
    for client, structs in groups.items():  # left over only by a cycle
        for struct in structs[taken[client] :]:
            pieces.take(client, struct)


class _Pieces:
    """The pieces being built: whole ones in ``done``, and the one being filled."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.done: list[bytes] = []
        self._groups: dict[int, tuple[int, list[bytes]]] = {}
        self._size = _HEADER_BYTES

    def take(self, client: int, struct: _Struct) -> None:
        """Add ``struct`` of ``client``, cutting it if it is a string too large for the
        room left, and starting new pieces as they fill up."""
        while True:
            cost = len(struct.body) + (0 if client in self._groups else _GROUP_BYTES)
            if self._size + cost <= self.max_bytes:
                self._add(client, struct, cost)
                return
            room = self.max_bytes - self._size - (cost - len(struct.body))
            cut = _cut(client, struct, room)
            if cut is not None:
                self._add(client, cut[0], cost)
                self._flush(b"\x00")
                struct = cut[1]
            elif not self._groups:  # it cannot be cut and fills a piece on its own
                self._add(client, struct, cost)
                self._flush(b"\x00")
                return
            else:
                self._flush(b"\x00")

    def _add(self, client: int, struct: _Struct, cost: int) -> None:
        group = self._groups.setdefault(client, (struct.clock, []))
        group[1].append(struct.body)
        self._size += cost

    def _flush(self, delete_set: bytes) -> None:
        if not self._groups:
            return
        parts = [varuint(len(self._groups))]
        for client, (clock, bodies) in self._groups.items():
            parts += [varuint(len(bodies)), varuint(client), varuint(clock), *bodies]
        parts.append(delete_set)
        self.done.append(b"".join(parts))
        self._groups, self._size = {}, _HEADER_BYTES

    def finish(self, delete_set: bytes, ranges: list[tuple[int, list[bytes]]]) -> None:
        """End with the delete set (encoded as ``delete_set``, parsed as ``ranges``):
        in the last piece if it fits, else in struct-less pieces of its own."""
        if self._groups and self._size + len(delete_set) <= self.max_bytes:
            self._flush(delete_set)
            return
        self._flush(b"\x00")
        if not ranges:
            return
        chunk: list[tuple[int, list[bytes]]] = []
        size = _HEADER_BYTES
        for client, encoded in ranges:
            for item in encoded:
                if size + len(item) + _GROUP_BYTES > self.max_bytes and chunk:
                    self.done.append(_delete_set_update(chunk))
                    chunk, size = [], _HEADER_BYTES
                if not chunk or chunk[-1][0] != client:
                    chunk.append((client, []))
                    size += _GROUP_BYTES
                chunk[-1][1].append(item)
                size += len(item)
        self.done.append(_delete_set_update(chunk))


def _delete_set_update(chunk: list[tuple[int, list[bytes]]]) -> bytes:
    """A struct-less update deleting the encoded ranges of ``chunk``."""
    parts = [b"\x00", varuint(len(chunk))]
    for client, encoded in chunk:
        parts += [varuint(client), varuint(len(encoded)), *encoded]
    return b"".join(parts)


def _cut(client: int, struct: _Struct, room: int) -> tuple[_Struct, _Struct] | None:
    """A string item cut in two so that the first part's encoding takes at most
    ``room`` bytes, or None if it is no string or the room is too small to bother.

    The second part is what Yjs itself writes for an item read from an offset: the
    same item from that clock on, its origin the first part's last character."""
    if struct.text is None or room < len(struct.head) + _MIN_CUT_BYTES:
        return None
    text = struct.text
    at = min(room - len(struct.head) - 5, len(text) - 1)  # 5: the string length's varuint
    while at > 0 and text[at] & 0xC0 == 0x80:  # not inside a UTF-8 character
        at -= 1
    if at <= 0:
        return None
    first_text, rest = text[:at], text[at:]
    units = at if first_text.isascii() else len(first_text.decode().encode("utf-16-le")) // 2
    first = _Struct(struct.clock, units, struct.head + varuint(at) + first_text, struct.needs)
    info = struct.head[0] | _ORIGIN
    clock = struct.clock + units
    head = bytes([info]) + varuint(client) + varuint(clock - 1) + struct.right
    second = _Struct(
        clock, struct.length - units, head + varuint(len(rest)) + rest, struct.needs,
        head, struct.right, rest,
    )  # fmt: skip
    return first, second
