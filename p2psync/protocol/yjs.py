"""What version of a document a replica holds, comparable across implementations.

A Yjs state vector says which inserts a replica has, but a delete creates no new
item, so two replicas with equal state vectors can still differ in what they deleted.
A document's version is therefore its decoded state vector plus a digest of its
canonical delete set. Both are decoded, never compared as bytes: pycrdt and Yjs
encode clients in different orders.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_CLIENTS = 100_000
MAX_RANGES = 10_000_000
DIGEST_BYTES = 16


class MalformedYjsError(ValueError):
    """Bytes that should be a Yjs v1 state vector or delete set are not one."""


@dataclass(frozen=True, slots=True)
class DocVersion:
    """A replica's version of one document: state vector and delete-set digest."""

    state_vector: dict[int, int]
    delete_digest: bytes

    def has_all_of(self, other: DocVersion) -> bool:
        """True if every insert ``other`` has is here too (deletes not considered)."""
        return covers(self.state_vector, other.state_vector)


def covers(ours: dict[int, int], theirs: dict[int, int]) -> bool:
    """True if state vector ``ours`` includes everything in ``theirs``."""
    return all(ours.get(client, 0) >= clock for client, clock in theirs.items())


class _Reader:
    """Reads Yjs lib0 variable-length unsigned integers from bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varuint(self) -> int:
        result = 0
        shift = 0
        while True:
            if self.pos >= len(self.data):
                raise MalformedYjsError("data ends inside a number")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise MalformedYjsError("number longer than 64 bits")

    def count(self, limit: int, what: str) -> int:
        value = self.varuint()
        if value > limit:
            raise MalformedYjsError(f"{value} {what} is over the limit of {limit}")
        return value

    def done(self) -> bool:
        return self.pos == len(self.data)


def decode_state_vector(data: bytes) -> dict[int, int]:
    """Decode a Yjs v1 state vector. Raises MalformedYjsError on anything else."""
    reader = _Reader(data)
    vector: dict[int, int] = {}
    for _ in range(reader.count(MAX_CLIENTS, "clients")):
        client = reader.varuint()
        vector[client] = reader.varuint()
    if not reader.done():
        raise MalformedYjsError("trailing bytes after the state vector")
    return vector


def delete_set_digest(delete_set_update: bytes) -> bytes:
    """Digest of the canonical delete set held in a struct-less Yjs v1 update.

    ``delete_set_update`` is ``doc.get_update(doc.get_state())``: zero struct groups,
    then the delete set. Ranges are sorted and merged per client before hashing, so the
    digest does not depend on how an implementation orders or splits them.
    """
    reader = _Reader(delete_set_update)
    if reader.varuint() != 0:
        raise MalformedYjsError("expected an update without structs")
    canonical: list[tuple[int, list[tuple[int, int]]]] = []
    for _ in range(reader.count(MAX_CLIENTS, "clients")):
        client = reader.varuint()
        ranges = [
            (reader.varuint(), reader.varuint())
            for _ in range(reader.count(MAX_RANGES, "delete ranges"))
        ]
        canonical.append((client, _merge(ranges)))
    if not reader.done():
        raise MalformedYjsError("trailing bytes after the delete set")
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    for client, ranges in sorted(canonical):
        if ranges:
            digest.update(repr((client, ranges)).encode())
    return digest.digest()


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
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
