"""The states of a timeline's kept versions, stored as a chain (docs/history.md).

Compaction gives every kept version inside its prefix the doc's state then
(``versionstate.fold``). Stored whole, each is about the size of the doc, so a
file with sixty kept versions costs sixty docs. The states of one doc's versions
are nested (each is a prefix of the same history: a later one holds every struct of
an earlier one), so each state after the first is stored as what the doc gained
since the version before it that holds a state: the structs past that one's state
vector and the deletions it did not have (``Version.chained``). The first state of
the timeline is stored whole. The states are compressed together, as one stream,
when the timeline file is written (``storage.versionindex``): a chain is always
read from its start, and the text one state gained is much like the next one's.
Chaining relies on the nesting, and the read-back checks it: a state that does not
hold the one before it is stored whole.

``rechain`` writes the chain again when the states it holds change (versions the
policy drops, states a compaction adds), and reads it back before the caller saves
it: every kept state must decode to the same state vector and delete set as before,
or the states are stored whole instead. ``full_state`` rebuilds one version's state,
``doc_at`` the doc holding it (for a restore or a text, one that keeps the text its
chain deletes: faster to rebuild, never encoded whole).
Pure functions over pycrdt; no file is read or written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pycrdt

from p2psync.storage.compaction import YDoc
from p2psync.storage.timeline import Version

Ranges = dict[int, list[tuple[int, int]]]
"""A delete set: client -> sorted, disjoint (clock, length) ranges."""


def full_state(timeline: Sequence[Version], number: int) -> bytes:
    """The whole state of version ``number`` of ``timeline`` (its stored state, or
    decoded through the chain); empty if it holds none."""
    target = [v for v in timeline if v.number == number and v.state]
    if target and not target[0].chained:
        return target[0].state
    doc = doc_at(timeline, number, client_id=None)
    return doc.get_update() if doc is not None else b""


def doc_at(
    timeline: Sequence[Version], number: int, *, client_id: int | None, collect: bool = True
) -> YDoc | None:
    """A doc holding the state of version ``number`` of ``timeline`` (decoded through
    the chain), whose own edits ``client_id`` makes (None: pycrdt's random one); None
    if that version holds no state. Without ``collect`` the doc keeps the text its
    chain deletes (Yrs's ``skip_gc``): it is rebuilt about a fifth faster, and holds
    the same text and state vector, but a state encoded from it carries that text."""
    end = next((i for i, v in enumerate(timeline) if v.number == number), None)
    if end is None or not timeline[end].state:
        return None
    whole = [i for i in range(end + 1) if timeline[i].state and not timeline[i].chained]
    doc: YDoc | None = None
    for version in timeline[whole[-1] if whole else 0 : end + 1]:  # from the last whole one
        if version.state:
            doc = _apply(doc, version, client_id, collect=collect)
    return doc


def _apply(
    doc: YDoc | None, version: Version, client_id: int | None = None, *, collect: bool = True
) -> YDoc:
    """``doc`` moved on to ``version``'s state: a whole state starts a new doc (made
    by ``client_id``, collecting deleted text if ``collect``), a chained one is
    applied to the doc of the version before it."""
    if not version.chained:
        doc = pycrdt.Doc(client_id=client_id, skip_gc=not collect)
        doc.apply_update(version.state)
        return doc
    if doc is None:
        raise ValueError(f"version {version.number} continues a chain that has no start")
    doc.apply_update(version.state)
    return doc


@dataclass(frozen=True, slots=True)
class _Point:
    """What a chained state is computed against: a state's vector and delete set."""

    vector: bytes
    deletes: Ranges
    deletes_bytes: bytes


def _point(doc: YDoc) -> _Point:
    deletes_bytes, deletes = _delete_set(doc)
    return _Point(doc.get_state(), deletes, deletes_bytes)


def rechain(source: Sequence[Version], kept: Sequence[Version]) -> list[Version]:
    """``kept`` with its states stored as a chain. ``kept`` is ``source`` less the
    versions the policy drops, a compaction perhaps having given some of them a whole
    state: ``source``'s states (in its order, with ``kept``'s in place of its own) are
    what the kept states are read from. Checked by reading the new chain back: if a
    state would not come back the same, every kept state is stored whole."""
    by_number = {v.number: v for v in kept}
    doc: YDoc | None = None
    before: _Point | None = None
    points: dict[int, _Point] = {}
    stored: dict[int, Version] = {}
    for version in (by_number.get(v.number, v) for v in source):
        if not version.state:
            continue
        doc = _apply(doc, version)
        if version.number not in by_number:
            continue
        point = points[version.number] = _point(doc)
        if before is None:
            stored[version.number] = replace(version, state=doc.get_update(), chained=False)
        else:
            gained = _gained(doc, point, before)
            stored[version.number] = replace(version, state=gained, chained=True)
        before = point
    chained = [stored.get(v.number, v) for v in kept]
    return chained if _reads_back(chained, points) else _whole(source, kept)


def _whole(source: Sequence[Version], kept: Sequence[Version]) -> list[Version]:
    """``kept`` with every state stored whole, read from ``source`` as ``rechain`` does."""
    by_number = {v.number: v for v in kept}
    doc: YDoc | None = None
    stored: dict[int, Version] = {}
    for version in (by_number.get(v.number, v) for v in source):
        if version.state:
            doc = _apply(doc, version)
            if version.number in by_number:
                stored[version.number] = replace(version, state=doc.get_update(), chained=False)
    return [stored.get(v.number, v) for v in kept]


def _gained(doc: YDoc, point: _Point, before: _Point) -> bytes:
    """The update from the state ``before`` to ``doc``'s (whose vector and delete set
    are ``point``): its structs past ``before``'s vector, and only the deletions
    ``before`` did not have (Yjs would send them all)."""
    update: bytes = doc.get_update(before.vector)
    if not update.endswith(point.deletes_bytes):
        return update  # not the layout expected: the whole delete set, still correct
    structs = update[: len(update) - len(point.deletes_bytes)]
    return structs + _encode(_minus(point.deletes, before.deletes))


def _reads_back(chained: Sequence[Version], points: dict[int, _Point]) -> bool:
    """Whether every state of ``chained`` decodes to the vector and deletions it had."""
    doc: YDoc | None = None
    try:
        for version in chained:
            if version.state:
                doc = _apply(doc, version)
                expected = points.get(version.number)
                got = _point(doc)
                if expected is None or (got.vector, got.deletes) != (
                    expected.vector,
                    expected.deletes,
                ):
                    return False
    except ValueError:
        return False
    return True


def _delete_set(doc: YDoc) -> tuple[bytes, Ranges]:
    """The delete set of ``doc``: as Yjs encodes it at the end of an update, and read.
    The update from the doc's own state vector is no structs (a zero), then the delete
    set: a count of clients, each a client, a count of ranges and the ranges (clock,
    length), every one a lib0 varuint."""
    update: bytes = doc.get_update(doc.get_state())
    if update[:1] != b"\x00":
        raise ValueError("a doc's update from its own state vector holds structs")
    numbers = iter(_varuints(update[1:]))
    ranges: Ranges = {}
    for _ in range(next(numbers)):
        client, count = next(numbers), next(numbers)
        ranges[client] = _merged([(next(numbers), next(numbers)) for _ in range(count)])
    return update[1:], ranges


def _varuints(data: bytes) -> list[int]:
    """Every lib0 varuint of ``data`` (7 bits a byte, low bits first), in order."""
    numbers: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            numbers.append(value)
            value = shift = 0
    return numbers


def _varuint(value: int) -> bytes:
    out = []
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``ranges`` sorted, overlapping and touching ones joined, empty ones left out."""
    spans: list[list[int]] = []
    for clock, length in sorted(r for r in ranges if r[1]):
        if spans and clock <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], clock + length)
        else:
            spans.append([clock, clock + length])
    return [(start, end - start) for start, end in spans]


def _minus(new: Ranges, old: Ranges) -> Ranges:
    """The ranges of ``new`` not in ``old``."""
    left: Ranges = {}
    for client, ranges in new.items():
        taken = old.get(client, [])
        out: list[tuple[int, int]] = []
        i = 0
        for clock, length in ranges:
            start, end = clock, clock + length
            while i < len(taken) and taken[i][0] + taken[i][1] <= start:
                i += 1
            j = i
            while start < end and j < len(taken) and taken[j][0] < end:
                t_start, t_end = taken[j][0], taken[j][0] + taken[j][1]
                if t_start > start:
                    out.append((start, t_start - start))
                start = max(start, t_end)
                j += 1
            if start < end:
                out.append((start, end - start))
        if out:
            left[client] = out
    return left


def _encode(ranges: Ranges) -> bytes:
    """A delete set as Yjs v1 writes it after an update's structs."""
    parts = [_varuint(len(ranges))]
    for client, found in sorted(ranges.items()):
        parts += [_varuint(client), _varuint(len(found))]
        parts += [_varuint(clock) + _varuint(length) for clock, length in found]
    return b"".join(parts)
