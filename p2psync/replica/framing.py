"""How the sync engine's messages are cut to fit frames (``replica.sync``).

Updates flooded to peers are grouped into Update frames, and index entries into
Index frames, each holding at most a share of the frame limit, so a frame of a few
MiB keeps one transfer short; an update larger than that is split into updates
applied in order (``protocol.yjs_split``).
"""

from __future__ import annotations

from p2psync.errors import MalformedYjsError
from p2psync.protocol.frames import MAX_FRAME_BYTES
from p2psync.protocol.messages import Index, IndexEntry
from p2psync.protocol.wire import MAX_INDEX_ENTRIES, MAX_UPDATES_PER_FRAME
from p2psync.protocol.yjs_split import split_update

FRAME_PAYLOAD_SHARE = 4
"""The Yjs bytes (updates, state vectors) of one frame the engine sends are at most
the frame limit divided by this: the rest is room for the frame's other fields, and a
frame of a few MiB keeps one transfer short."""
MAX_UPDATE_FRAME_BYTES = MAX_FRAME_BYTES // FRAME_PAYLOAD_SHARE
_ITEM_BYTES = 8
"""Counted per update or index entry on top of its bytes: its msgpack headers."""
_ENTRY_BYTES = 64
"""Counted per index entry on top of its guid and state vector: sequence, digest."""


def frames_of(updates: list[bytes], payload_bytes: int) -> list[list[bytes]]:
    """Split updates into groups that each fit one Update frame of at most
    ``payload_bytes`` of updates; an update larger than that on its own is split into
    updates applied in order (``protocol.yjs_split``)."""
    chunks: list[list[bytes]] = [[]]
    size = 0
    for update in updates:
        try:
            parts = split_update(update, payload_bytes - _ITEM_BYTES)
        except MalformedYjsError:  # never ours: a peer's update was checked before
            parts = [update]
        for part in parts:
            cost = len(part) + _ITEM_BYTES
            full = len(chunks[-1]) >= MAX_UPDATES_PER_FRAME or size + cost > payload_bytes
            if chunks[-1] and full:
                chunks.append([])
                size = 0
            chunks[-1].append(part)
            size += cost
    return chunks


def index_chunks(entries: list[IndexEntry], payload_bytes: int) -> list[tuple[IndexEntry, ...]]:
    """``entries`` in order, in chunks of at most MAX_INDEX_ENTRIES that each take at
    most about ``payload_bytes`` (a state vector can be large); at least one chunk,
    empty if there are no entries."""
    chunks: list[tuple[IndexEntry, ...]] = []
    chunk: list[IndexEntry] = []
    size = 0
    for entry in entries:
        cost = _ENTRY_BYTES + len(entry.guid.encode()) + 16 * len(entry.version.state_vector)
        if chunk and (len(chunk) >= MAX_INDEX_ENTRIES or size + cost > payload_bytes):
            chunks.append(tuple(chunk))
            chunk, size = [], 0
        chunk.append(entry)
        size += cost
    chunks.append(tuple(chunk))
    return chunks


def index_messages(
    share_id: bytes, index_id: bytes, entries: list[IndexEntry], *,
    since: int, max_sequence: int, urgent: frozenset[str], payload_bytes: int,
) -> list[Index]:  # fmt: skip
    """The Index messages of a delta: ``entries`` (those after sequence ``since`` of
    the index ``index_id``, which is at ``max_sequence``) in frames of at most about
    ``payload_bytes``, the ``urgent`` docs' entries ahead."""
    chunks = index_chunks(entries, payload_bytes)
    first = len(chunks[0])
    ahead = [e for e in entries[first:] if e.guid in urgent]
    messages: list[Index] = []
    for chunk in index_chunks(ahead, payload_bytes) if ahead else []:
        # Urgent entries the first frame does not bring come in frames of their
        # own ahead of it, claiming nothing new (the frames after repeat them, in
        # sequence order): the peer asks for them first.
        messages.append(Index(share_id, index_id, since, chunk))
    for number, chunk in enumerate(chunks):
        last = number == len(chunks) - 1
        # A peer that got only some chunks before a disconnect must ask again from
        # the last entry it has, so each chunk claims only as far as it goes.
        claimed = max_sequence if last else chunk[-1].sequence
        messages.append(Index(share_id, index_id, claimed, chunk))
    return messages
