"""What a file's doc holds, and the scratch-doc updates a save is stored by.

The text root of a one-doc text file (``CONTENT``), seeding a new doc, the bytes a
doc of any kind holds now (``doc_bytes``), and the update that turns a doc at some
state into a saved text (``merge_save``: a save merged against its base; the oracle
the tests hold merges to).
"""

from __future__ import annotations

from typing import Any

import pycrdt

from p2psync.errors import InvalidIdError
from p2psync.ids import DeviceId, new_client_id
from p2psync.mirror import binary
from p2psync.mirror.chunkfile import ChunkedFiles, decode_large_text
from p2psync.mirror.erased import erased_since
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry
from p2psync.mirror.textdiff import NOTHING_ERASED, Erased, apply_text_change
from p2psync.replica.doc import DocReplica

CONTENT = "content"
YDoc = pycrdt.Doc[Any]


def content_of(doc: YDoc) -> pycrdt.Text:
    """The root ``Y.Text`` of a one-doc text file's doc."""
    text: pycrdt.Text = doc.get(CONTENT, type=pycrdt.Text)
    return text


def seed(content: pycrdt.Text, text: str) -> None:
    """Fill the Text of a new doc. An empty file still needs a change for its doc to
    exist on peers: a character inserted and deleted at once."""
    content.insert(0, text or " ")
    if not text:
        del content[0:1]


def short_device(device: bytes) -> str:
    """How a device is named in a copy's name: the short form of its ID (the clock's
    device is the ID's digest), else its first bytes in hex."""
    try:
        return DeviceId(device).short()
    except InvalidIdError:
        return device.hex()[:8]


def lines_of(data: bytes) -> set[str]:
    """The distinct lines of a file, if it is text (none if not)."""
    text = decode_large_text(data)
    return set(text.splitlines()) if text is not None else set()


def state_vector(state: bytes) -> bytes:
    """The Yjs state vector of a doc at ``state``."""
    scratch: YDoc = pycrdt.Doc()
    scratch.apply_update(state)
    return scratch.get_state()


def text_at(state: bytes) -> str:
    """The text of a one-doc text file's doc at ``state``."""
    scratch: YDoc = pycrdt.Doc()
    scratch.apply_update(state)
    return str(content_of(scratch))


def merge_save(base_state: bytes, text: str, live_state: bytes) -> tuple[bytes, bytes]:
    """The update that turns the doc at ``base_state`` into ``text``, made in a scratch
    doc of a fresh client: applied to the live doc (at ``live_state``) it merges with
    whatever the live doc gained since the base, as a peer's concurrent edit would. A
    line the save changed in place that the live doc has deleted since is replaced
    whole (``textdiff.Erased``). Also returns the scratch doc's state after it: a
    merge base whose text is ``text``."""
    erased = Erased.joined(erased_since(base_state, live_state))
    return text_update(base_state, text, new_client_id(), erased)


def text_update(
    state: bytes, text: str, client_id: int, erased: Erased = NOTHING_ERASED
) -> tuple[bytes, bytes]:
    """The update (by ``client_id``) turning the doc at ``state`` into ``text``, and
    the state after it."""
    scratch: YDoc = pycrdt.Doc(client_id=client_id)
    scratch.apply_update(state)
    before = scratch.get_state()
    content = content_of(scratch)
    apply_text_change(content, str(content), text, erased)
    return scratch.get_update(before), scratch.get_update()


def doc_bytes(entry: Entry, doc: DocReplica | None, chunks: ChunkedFiles) -> bytes | None:
    """The bytes the file of ``entry`` is to hold by its doc ``doc`` (None: no doc,
    or a binary file with no version yet)."""
    if doc is None:
        return None
    if entry.kind is FileKind.TEXT:
        return doc.text(CONTENT).encode()
    if entry.kind is FileKind.CHUNKED:
        return chunks.content(entry.guid, None)[0]
    if entry.kind is FileKind.YDOC:
        return doc.full_state()
    version = binary.current(doc.ydoc)
    return version.data if version is not None else None
