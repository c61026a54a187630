"""Which deleted files come back: the rule that an edit concurrent with a delete keeps
the file. Pure (docs are given, never loaded here on their own).

A deletion records, in the manifest entry, the state of the file's docs at that
moment; a deleted entry whose docs hold changes past that state is revived. For a
one-doc file the record is ``deleted_at``, the doc's Yjs state vector. A chunked
file is a root doc and chunk docs, and its edits go to the chunks, so its deletion
also records ``deleted_chunks`` (docs/mirror.md, "The manifest"): the msgpack array
``[root state vector, {chunk guid: state vector}]``. The root's state vector is
repeated so a record left over from an earlier deletion (an older version revived the
entry without clearing it, then deleted it again with only ``deleted_at``) is seen as
stale and ignored. A chunk the root lists that the record does not name was created
after the deletion: that is a change too.

Entries deleted by a version without ``deleted_chunks`` keep the old rule: only the
root's changes revive them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgpack

from p2psync.mirror.chunked import chunk_order
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry
from p2psync.protocol.yjs import decode_state_vector
from p2psync.replica.doc import DocReplica

Docs = Callable[[str], DocReplica | None]
"""A share's docs by guid (``DocStore.doc``)."""


def has_changes_since(doc: DocReplica, state_vector: bytes) -> bool:
    """Whether ``doc`` holds changes a replica at ``state_vector`` did not (an
    unreadable state vector counts as changed: the file is kept)."""
    try:
        seen = decode_state_vector(state_vector) if state_vector else {}
    except ValueError:
        return True
    return any(clock > seen.get(client, 0) for client, clock in doc.version().state_vector.items())


def encode_chunk_states(root_state: bytes, chunks: Mapping[str, bytes]) -> bytes:
    """The ``deleted_chunks`` value of a chunked file deleted with its root at
    ``root_state`` and each chunk at the state vector ``chunks`` names."""
    packed: bytes = msgpack.packb([root_state, dict(chunks)], use_bin_type=True)
    return packed


def decode_chunk_states(raw: bytes, root_state: bytes) -> dict[str, bytes] | None:
    """The chunks' state vectors recorded with the root at ``root_state`` (the entry's
    ``deleted_at``); None if there is no such record (absent, stale or malformed)."""
    if not raw:
        return None
    try:
        value = msgpack.unpackb(raw, raw=False)
    except (ValueError, TypeError):  # msgpack's errors are ValueErrors
        return None
    if not isinstance(value, list) or len(value) != 2:
        return None
    recorded_root, chunks = value
    if recorded_root != root_state or not isinstance(chunks, dict):
        return None
    return {
        guid: bytes(state)
        for guid, state in chunks.items()
        if isinstance(guid, str) and isinstance(state, bytes)
    }


def deletion_fields(entry: Entry, docs: Docs) -> dict[str, bytes]:
    """The manifest fields recording the state of ``entry``'s docs as it is deleted
    now: ``deleted_at`` and, for a chunked file, ``deleted_chunks`` (every chunk the
    root lists is loaded once for its state vector)."""
    root = docs(entry.guid)
    state = root.state_vector() if root is not None else b""
    fields = {"deleted_at": state, "deleted_chunks": b""}
    if entry.kind is FileKind.CHUNKED and root is not None:
        chunks = {}
        for guid in chunk_order(root.ydoc, entry.guid):
            chunk = docs(guid)
            chunks[guid] = chunk.state_vector() if chunk is not None else b""
        fields["deleted_chunks"] = encode_chunk_states(state, chunks)
    return fields


def edited_since_deletion(entry: Entry, docs: Docs, *, chunks: bool = True) -> bool:
    """Whether deleted ``entry``'s docs changed since its deletion was recorded.
    ``chunks=False`` looks at a chunked file's root only (no chunk is loaded): the
    caller knows none of its chunks changed."""
    root = docs(entry.guid)
    if root is None:
        return False
    if has_changes_since(root, entry.deleted_at):
        return True
    if entry.kind is not FileKind.CHUNKED or not chunks:
        return False
    recorded = decode_chunk_states(entry.deleted_chunks, entry.deleted_at)
    if recorded is None:
        return False
    return any(_chunk_changed(guid, recorded, docs) for guid in chunk_order(root.ydoc, entry.guid))


def _chunk_changed(guid: str, recorded: Mapping[str, bytes], docs: Docs) -> bool:
    if guid not in recorded:
        return True  # created after the deletion
    chunk = docs(guid)
    return chunk is not None and has_changes_since(chunk, recorded[guid])
