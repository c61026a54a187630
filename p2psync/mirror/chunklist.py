"""A chunked file's root that lost its chunk list: damage, never an edit.

A chunked file's root always lists at least one chunk: ``chunked.seed`` lists one
even for an empty text, ``chunked.convert`` lists the root itself, and no edit ever
removes an entry. A file emptied here (truncated to 0 bytes) or by a peer (all its
text deleted) keeps every chunk listed, each holding no text, and stays chunked; it
syncs as any edit does. So a root that is here and lists no chunk (or none whose
entry can be read) has lost its list: a root log stored as the file's export (its
text as one text doc, no list; a bug fixed in the daemon), or a list that has not
come yet. Its text reads as "", and writing the file from it would empty the file.

The rule (``ChunkPaths.list_lost``): the mirror never writes such a file from its
root and never takes a save of it in; the file is left as it is. The list is rebuilt
(``relisted``) when the layout the file was last synced with (``chunkfile.Layout``,
in memory or in its sync record) names chunks that are all here and whose order keys
follow from their guids (``chunked.derived_keys``); the root's own text, if it lists
itself, must still be what the layout holds for it. That is a local edit of the root,
so peers get it; the file is then synced as ever (a save made meanwhile merges by
its layout). Otherwise the file is reported (``chunk-list-lost``) until a peer that
kept the list sends it.

A root's own ``content`` text is not read unless it lists itself: the export text a
peer merged in from a damaged root sits there unseen and is left alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from p2psync.mirror.chunked import CONTENT, chunk_order, derived_keys, relist
from p2psync.mirror.chunklayout import Piece
from p2psync.mirror.chunkscratch import ChunkStore, ScratchDocs

LOST_REASON = (
    "the list of this large file's parts is missing on this device (damaged by an older "
    "p2psync); the file is left as it is and syncs again once a peer sends the list"
)
"""The reason a ``chunk-list-lost`` problem gives (``status``)."""


def lists_chunks(store: ChunkStore, root_guid: str) -> bool:
    """Whether the root ``root_guid`` lists a chunk (True if it is not here: nothing
    can be written from it or saved into it then anyway)."""
    root = store.doc(root_guid)
    return root is None or bool(chunk_order(root.ydoc, root_guid))


async def relisted(store: ChunkStore, root_guid: str, pieces: Sequence[Piece]) -> bool:
    """List the chunks of ``pieces`` (the layout the file was last synced with) in the
    root ``root_guid`` again, as a local edit; whether it was. Not if a chunk is not
    here, if their order keys cannot be derived from their guids, or if the root lists
    itself and its own text is not what the layout holds for it (a root whose log held
    the export holds the whole text there)."""
    guids = [piece.guid for piece in pieces]
    keys = derived_keys(root_guid, guids)
    if not guids or keys is None:
        return False
    for piece in pieces:
        doc = store.doc(piece.guid)
        if doc is None:
            return False
        own = piece.guid == root_guid
        if own and hashlib.sha256(doc.text(CONTENT).encode()).digest() != piece.digest:
            return False
    scratch = ScratchDocs(store)
    relist(scratch(root_guid), root_guid, keys)
    await scratch.store(root_guid)
    return True
