"""Scratch copies of a chunked file's docs, for its edits (``mirror.chunkfile``).

Edits of a chunked file are made on copies of the docs they touch, never on the
live docs: copies of the docs as they hold now, or of the docs at a save's merge
bases. Each copy collects the updates its edits make, and they are stored through
the share as local updates, chunks first, then the root, so a peer never sees a
chunk listed that holds less than was meant.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

import pycrdt

from p2psync.ids import new_client_id
from p2psync.mirror.chunked import CONTENT
from p2psync.replica.doc import DocReplica

YDoc = pycrdt.Doc[Any]


class ChunkStore(Protocol):
    """What this module needs of the share (``mirror.engine.DocStore`` provides it)."""

    def doc(self, guid: str) -> DocReplica | None: ...

    async def local_update(self, guid: str, update: bytes, *, notify: bool = True) -> None: ...


class ScratchDocs:
    """Copies of docs to edit, collecting the updates each edit makes: of the live
    docs, or, given ``bases`` (guid -> state), of those docs at those states, the
    root ``root_guid`` live if it has no base, and any other doc empty (it did not
    exist at the base)."""

    def __init__(
        self, store: ChunkStore, bases: dict[str, bytes] | None = None, root_guid: str = ""
    ) -> None:
        self._store = store
        self._bases = bases
        self._root_guid = root_guid
        self.docs: dict[str, YDoc] = {}
        self.updates: dict[str, list[bytes]] = {}
        self._subscriptions: list[tuple[YDoc, pycrdt.Subscription]] = []

    def __call__(self, guid: str) -> YDoc:
        doc = self.docs.get(guid)
        if doc is None:
            doc = pycrdt.Doc(client_id=new_client_id())
            if self._bases is not None and (guid != self._root_guid or self._bases.get(guid)):
                state = self._bases.get(guid)
                if state:
                    doc.apply_update(state)
            elif (live := self._store.doc(guid)) is not None:
                doc.apply_update(live.full_state())
            self._subscriptions.append((doc, doc.observe(partial(self._record, guid))))
            self.docs[guid] = doc
        return doc

    def _record(self, guid: str, event: pycrdt.TransactionEvent) -> None:
        self.updates.setdefault(guid, []).append(event.update)

    def _unobserve(self) -> None:
        """Drop the subscriptions: an observed pycrdt Doc holds its callback, which holds
        these docs, through Rust where Python's collector cannot see the cycle."""
        for doc, subscription in self._subscriptions:
            doc.unobserve(subscription)
        self._subscriptions.clear()

    async def store(self, root_guid: str) -> list[str]:
        """Store every collected update as a local change, the root's last; return
        the guids changed. The copies record no further edits (and can be freed)."""
        self._unobserve()
        order = sorted(self.updates, key=lambda guid: guid == root_guid)
        for guid in order:
            update = pycrdt.merge_updates(*self.updates[guid])
            await self._store.local_update(guid, update, notify=False)
        changed = list(order)
        self.updates.clear()
        return changed


def text_of(doc: YDoc) -> pycrdt.Text:
    """The text of a chunk doc (or of a one-doc text) ``doc``."""
    text: pycrdt.Text = doc.get(CONTENT, type=pycrdt.Text)
    return text
