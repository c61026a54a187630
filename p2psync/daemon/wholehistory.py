"""The file history of files that are not text: binary files and ``.ydoc`` app docs
(docs/history.md).

Their docs' logs hold their past like a text file's, so their versions are kept the
same way (positions in the log, full states before compaction), but a version has
no text: its size is the file's (a binary file's bytes, an app doc's state) and its
+N / -M are not counted. Its content is rebuilt from the doc's state then: the bytes
that were the binary file, or the app doc's whole state, the file a ``.ydoc`` is.
A binary file is restored as a save of those bytes (last writer wins, as for any
save); an app doc is not restored in place (see ``refuse_app_doc_restore``).
"""

from __future__ import annotations

from typing import Any

import pycrdt

from p2psync.errors import UsageError
from p2psync.ids import new_client_id
from p2psync.mirror import binary
from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.replica.doc import DocReplica

WHOLE = (FileKind.BINARY, FileKind.YDOC)
"""The kinds of files whose versions have no text."""


def whole_size(kind: FileKind, doc: DocReplica) -> int:
    """The size of the file of ``kind`` whose doc is ``doc``, now."""
    if kind is FileKind.YDOC:
        return len(doc.full_state())
    held = binary.current(doc.ydoc)
    return len(held.data) if held is not None else 0


def content_of(kind: FileKind, state: bytes) -> bytes:
    """The file a version of ``kind`` whose doc's state was ``state`` held."""
    if kind is FileKind.YDOC or not state:
        return state
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(state)
    held = binary.current(doc)
    return held.data if held is not None else b""


def binary_restore(doc: DocReplica, stamp: Timestamp, data: bytes) -> bytes | None:
    """The update that saves ``data`` as binary file doc ``doc``'s new version at
    ``stamp`` (made by a fresh client), None if the file holds ``data`` already."""
    held = binary.current(doc.ydoc)
    if held is not None and held.data == data:
        return None
    copy: pycrdt.Doc[Any] = pycrdt.Doc(client_id=new_client_id())
    copy.apply_update(doc.full_state())
    before = copy.get_state()
    binary.put(copy, stamp, data)
    update: bytes = copy.get_update(before)
    return update


def refuse_app_doc_restore(path: str) -> UsageError:
    """Why a ``.ydoc`` app doc is not restored in place: an app doc holds any Yjs
    types, and Yjs has no general way to turn a doc back to a past state as an edit
    that keeps other clients' concurrent changes (a text is diffed, but a map, an
    array or an XML tree of an app's own design is not); overwriting it would lose
    them."""
    return UsageError(
        f"{path} is an app doc: its past state cannot be applied as an edit that keeps "
        "concurrent changes; write it elsewhere with --to OUT"
    )
