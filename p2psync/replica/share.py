"""The documents of one share held by this replica, and their change index.

Every change to a doc (local or from a peer) takes the next sequence number of the
share. Peers remember the highest sequence they have seen of our index (with its
random ``index_id``), so after a reconnect they ask only for what changed since:
the cost is O(changed docs), not O(all docs) — Syncthing's delta index.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator

from p2psync.protocol.messages import IndexEntry
from p2psync.replica.doc import DocReplica

INDEX_ID_BYTES = 8


class ShareReplica:
    """The docs of one share, each with the sequence number of its last change."""

    def __init__(self, share_id: bytes, *, index_id: bytes | None = None) -> None:
        self.share_id = share_id
        self.index_id = index_id or secrets.token_bytes(INDEX_ID_BYTES)
        self.max_sequence = 0
        self._docs: dict[str, DocReplica] = {}
        self._sequences: dict[str, int] = {}

    def __contains__(self, guid: str) -> bool:
        return guid in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    def guids(self) -> Iterator[str]:
        """Every doc guid of the share."""
        return iter(self._docs)

    def get(self, guid: str) -> DocReplica | None:
        """The doc ``guid``, or None if this replica does not hold it."""
        return self._docs.get(guid)

    def add(self, doc: DocReplica) -> DocReplica:
        """Hold ``doc`` (loaded from its log); it counts as changed."""
        self._docs[doc.guid] = doc
        self.touch(doc.guid)
        return doc

    def get_or_create(self, guid: str) -> DocReplica:
        """The doc ``guid``, created empty if this replica does not hold it yet."""
        doc = self._docs.get(guid)
        return doc if doc is not None else self.add(DocReplica(guid))

    def replace(self, doc: DocReplica) -> None:
        """Hold ``doc`` in place of any doc with its guid (a reload from its log)."""
        if doc.guid not in self._docs:
            self.touch(doc.guid)
        self._docs[doc.guid] = doc

    def touch(self, guid: str) -> int:
        """Record that ``guid`` changed; returns its new sequence number."""
        self.max_sequence += 1
        self._sequences[guid] = self.max_sequence
        return self.max_sequence

    def entries_since(self, sequence: int) -> list[IndexEntry]:
        """Index entries of the docs changed after ``sequence``, oldest change first."""
        changed = sorted((s, g) for g, s in self._sequences.items() if s > sequence)
        return [IndexEntry(g, s, self._docs[g].version()) for s, g in changed]

    def load(self, docs: Iterable[DocReplica]) -> None:
        """Hold every doc of ``docs`` (start-up)."""
        for doc in docs:
            self.add(doc)
