"""Yjs v1 state vectors and delete sets, decoded and compared. Pure, no pycrdt.

A state vector says which inserts a replica has: for each client, the clock of its
next insert. It is compared decoded, never as bytes: pycrdt and Yjs write clients in
different orders. A delete creates no new item, so two replicas with equal state vectors
can still differ in what they deleted; a doc's version (``DocVersion``) is therefore its
state vector plus a digest of its canonical delete set.

Every decoder here has hard limits and raises MalformedYjsError (a RemoteProtocolError,
so a peer that sends such bytes is disconnected) on anything that is not well formed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from p2psync.errors import MalformedYjsError

__all__ = [
    "DIGEST_BYTES",
    "MAX_CLIENTS",
    "MAX_DELETE_RANGES",
    "MAX_YJS_INT",
    "DocVersion",
    "MalformedYjsError",
    "check_delete_set_update",
    "covers",
    "decode_state_vector",
    "delete_set_digest",
    "encode_state_vector",
    "is_behind",
]

MAX_CLIENTS = 100_000
"""Clients in one state vector or delete set."""
MAX_DELETE_RANGES = 10_000_000
"""Ranges in one delete set (all clients together)."""
MAX_YJS_INT = 2**53 - 1
"""Client IDs and clocks are JavaScript-safe integers, as Yjs writes them."""
DIGEST_BYTES = 16


@dataclass(frozen=True, slots=True)
class DocVersion:
    """A replica's version of one doc: decoded state vector and delete-set digest.

    Two replicas hold the same content exactly when both parts are equal.
    """

    state_vector: dict[int, int]
    delete_digest: bytes

    def has_all_of(self, other: DocVersion) -> bool:
        """True if every insert ``other`` has is here too (deletes not considered)."""
        return covers(self.state_vector, other.state_vector)


def covers(ours: dict[int, int], theirs: dict[int, int]) -> bool:
    """True if state vector ``ours`` includes everything in ``theirs``."""
    return all(ours.get(client, 0) >= clock for client, clock in theirs.items())


def is_behind(ours: dict[int, int], theirs: dict[int, int]) -> bool:
    """True if ``theirs`` has inserts that ``ours`` lacks: we should ask for a diff.

    Both sides can be behind each other at once (concurrent edits); equal state vectors
    are behind neither way.
    """
    return not covers(ours, theirs)


def read_varuint(data: bytes, pos: int) -> tuple[int, int]:
    """The position after the lib0 varuint at ``pos`` of ``data``, and its value (as
    Yjs and y-websocket's framing, ``apps.wire``, write numbers). MalformedYjsError
    if the data ends inside it, or it is over 2**53 - 1 (a safe integer)."""
    if pos < len(data) and data[pos] < 0x80:  # the common one-byte case
        return pos + 1, data[pos]
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise MalformedYjsError("data ends inside a number")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift > 49:  # eight bytes hold 56 bits, more than any safe integer
            raise MalformedYjsError("number longer than 8 bytes")
    if result > MAX_YJS_INT:
        raise MalformedYjsError(f"number {result} is over 2**53 - 1")
    return pos, result


class _Reader:
    """Reads lib0 variable-length unsigned integers (7 bits a byte, low bits first)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varuint(self) -> int:
        self.pos, value = read_varuint(self.data, self.pos)
        return value

    def count(self, limit: int, what: str) -> int:
        value = self.varuint()
        if value > limit:
            raise MalformedYjsError(f"{value} {what} is over the limit of {limit}")
        return value

    def done(self) -> bool:
        return self.pos == len(self.data)


def _varuint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


encode_varuint = _varuint
"""A lib0 varuint, as Yjs and y-websocket's framing (``apps.wire``) write numbers."""


def decode_state_vector(data: bytes) -> dict[int, int]:
    """Decode a Yjs v1 state vector: a count, then (client, clock) pairs.

    Raises MalformedYjsError for truncated input, trailing bytes, numbers over 2**53 - 1,
    more than MAX_CLIENTS clients, or a client listed twice.
    """
    reader = _Reader(data)
    vector: dict[int, int] = {}
    for _ in range(reader.count(MAX_CLIENTS, "clients")):
        client = reader.varuint()
        if client in vector:
            raise MalformedYjsError(f"client {client} is listed twice in the state vector")
        vector[client] = reader.varuint()
    if not reader.done():
        raise MalformedYjsError("trailing bytes after the state vector")
    return vector


def encode_state_vector(vector: dict[int, int]) -> bytes:
    """The Yjs v1 encoding of ``vector``, clients in ascending order.

    Raises ValueError if a client or clock is not an integer in 0..2**53 - 1 or there are
    more than MAX_CLIENTS clients (a bug of the caller: vectors come from decoding).
    """
    if len(vector) > MAX_CLIENTS:
        raise ValueError(f"{len(vector)} clients is over the limit of {MAX_CLIENTS}")
    parts = [_varuint(len(vector))]
    for client, clock in sorted(vector.items()):
        if not (0 <= client <= MAX_YJS_INT and 0 <= clock <= MAX_YJS_INT):
            raise ValueError(f"state vector entry {client}: {clock} is out of range")
        parts += (_varuint(client), _varuint(clock))
    return b"".join(parts)


def first_struct_id(update: bytes) -> tuple[int, int] | None:
    """The (client, clock) of the first struct of a Yjs v1 update, or None if it has no
    structs. Reads only the first few numbers; raises MalformedYjsError if they are cut
    short."""
    reader = _Reader(update)
    if reader.varuint() == 0:
        return None
    reader.varuint()  # how many structs the first client's group holds
    client = reader.varuint()
    return client, reader.varuint()


def check_delete_set_update(update: bytes) -> None:
    """Check that ``update`` is a struct-less Yjs v1 update: zero struct groups, then a
    well-formed delete set within the limits. Allocates nothing per range.

    Raises MalformedYjsError otherwise (a Yjs v2 update starts with a zero byte too, and
    fails here).
    """
    _read_delete_set(update, lambda client, clock, length: None)


def delete_set_digest(delete_set_update: bytes) -> bytes:
    """BLAKE2b-128 of the canonical delete set held in a struct-less Yjs v1 update.

    ``delete_set_update`` is ``doc.get_update(doc.get_state())``: zero struct groups,
    then the delete set. The canonical form (docs/protocol.md) sorts and merges each
    client's ranges and sorts the clients, so the digest does not depend on how an
    implementation orders or splits them. Raises MalformedYjsError as
    ``check_delete_set_update`` does.
    """
    clients: dict[int, list[tuple[int, int]]] = {}
    _read_delete_set(
        delete_set_update,
        lambda client, clock, length: clients.setdefault(client, []).append((clock, length)),
    )
    canonical = [(c, merged) for c, r in sorted(clients.items()) if (merged := _merge(r))]
    digest = hashlib.blake2b(_varuint(len(canonical)), digest_size=DIGEST_BYTES)
    for client, merged in canonical:
        digest.update(_varuint(client) + _varuint(len(merged)))
        digest.update(b"".join(_varuint(clock) + _varuint(length) for clock, length in merged))
    return digest.digest()


def _read_delete_set(update: bytes, on_range: Callable[[int, int, int], None]) -> None:
    """Parse a struct-less v1 update, calling ``on_range(client, clock, length)``."""
    reader = _Reader(update)
    if reader.varuint() != 0:
        raise MalformedYjsError("expected an update without structs")
    budget = MAX_DELETE_RANGES
    for _ in range(reader.count(MAX_CLIENTS, "clients")):
        client = reader.varuint()
        count = reader.count(budget, "delete ranges")
        budget -= count
        for _ in range(count):
            on_range(client, reader.varuint(), reader.varuint())
    if not reader.done():
        raise MalformedYjsError("trailing bytes after the delete set")


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted ranges with empty ones dropped and overlapping or adjacent ones joined."""
    merged: list[tuple[int, int]] = []
    for clock, length in sorted(ranges):
        if length == 0:
            continue
        if merged and clock <= merged[-1][0] + merged[-1][1]:
            start, prev_length = merged[-1]
            merged[-1] = (start, max(prev_length, clock + length - start))
        else:
            merged.append((clock, length))
    return merged
