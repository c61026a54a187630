"""What ``doc export`` gives for a chunked file: its text as one text doc. Pure.

A text file's export is its doc's full state, whose root ``Y.Text`` ``content`` holds
the file's text. A chunked file (``mirror.chunked``) has no such doc: its text is
spread over chunk docs that its root lists. Its export is made to read the same way:
the Yjs v1 update of a new doc (a fresh client) whose ``content`` holds the chunks'
texts in order. That doc shares no history with the chunk docs, so an update made
against it means nothing to them: ``doc apply`` refuses a chunked file
(``errors.ChunkedDocError``) rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pycrdt

from p2psync.errors import ChunkedDocError
from p2psync.ids import new_client_id
from p2psync.mirror.chunked import CONTENT, chunk_order

YDoc = pycrdt.Doc[Any]


def chunked_export(root: YDoc, root_guid: str, chunk_text: Callable[[str], str]) -> bytes:
    """The export of the chunked file whose root doc ``root_guid`` is ``root``;
    ``chunk_text`` gives a chunk's text by guid ("" for a chunk not here yet)."""
    doc: YDoc = pycrdt.Doc(client_id=new_client_id())
    text = "".join(chunk_text(guid) for guid in chunk_order(root, root_guid))
    if text:  # one insert: appending piece by piece costs a length walk per piece
        doc.get(CONTENT, type=pycrdt.Text).insert(0, text)
    update: bytes = doc.get_update()
    return update


def refuse_apply(path: str) -> ChunkedDocError:
    """The error ``doc apply`` gives for the chunked file at ``path``."""
    return ChunkedDocError(
        f"{path} is a large text file stored in chunks, so a Yjs update cannot be "
        "applied to it; edit the file itself instead"
    )
