"""The documents of one share held by this replica, and their change index.

Every change to a doc (local or from a peer) takes the next sequence number of the
share. Peers remember the highest sequence they have seen of our index (with its
random ``index_id``), so after a reconnect they ask only for what changed since:
the cost is O(changed docs), not O(all docs) — Syncthing's delta index.
"""

from __future__ import annotations

import bisect
import secrets
from collections.abc import Iterable, Iterator

from p2psync.protocol.messages import EMPTY_STATE_VECTOR, IndexEntry
from p2psync.protocol.yjs import DocVersion, encode_state_vector
from p2psync.replica.doc import DocReplica

CHANGES_SLACK = 1024
"""Superseded changes ``touch`` lets pile up before it drops them (in one pass)."""
INDEX_ID_BYTES = 8


class ShareReplica:
    """The docs of one share, each with the sequence number of its last change.

    A doc is either loaded (a ``DocReplica`` in memory) or unloaded: then only its
    version is held, which is all the index exchange needs (docs/architecture.md). The owner
    loads a doc before anything must be applied to it, and unloads idle ones.
    """

    def __init__(self, share_id: bytes, *, index_id: bytes | None = None) -> None:
        self.share_id = share_id
        self.index_id = index_id or secrets.token_bytes(INDEX_ID_BYTES)
        self.max_sequence = 0
        self._docs: dict[str, DocReplica] = {}
        self._unloaded: dict[str, DocVersion] = {}
        self._sequences: dict[str, int] = {}
        self._changes: list[tuple[int, str]] = []
        """(sequence, guid) of each change since the start, in order, superseded ones
        included until ``touch`` drops them: ``entries_since`` a recent sequence reads
        the tail, not every doc (each index flush asked it of 100,000 docs)."""
        self._changes_from = 0
        """``_changes`` holds every change after this sequence (the index's at start)."""

    def __contains__(self, guid: str) -> bool:
        return guid in self._sequences

    def __len__(self) -> int:
        return len(self._sequences)

    def guids(self) -> Iterator[str]:
        """Every doc guid of the share, loaded or not."""
        return iter(self._sequences)

    def get(self, guid: str) -> DocReplica | None:
        """The doc ``guid`` if it is loaded, else None."""
        return self._docs.get(guid)

    def is_loaded(self, guid: str) -> bool:
        return guid in self._docs

    def loaded(self) -> list[DocReplica]:
        """The docs held in memory."""
        return list(self._docs.values())

    def version(self, guid: str) -> DocVersion | None:
        """The version of doc ``guid`` (loaded or not), None if the share has no such doc."""
        doc = self._docs.get(guid)
        return doc.version() if doc is not None else self._unloaded.get(guid)

    def state_vector(self, guid: str) -> bytes:
        """The Yjs v1 state vector of doc ``guid`` (empty for a doc we do not hold)."""
        doc = self._docs.get(guid)
        if doc is not None:
            return doc.state_vector()
        version = self._unloaded.get(guid)
        return encode_state_vector(version.state_vector) if version else EMPTY_STATE_VECTOR

    def sequence_of(self, guid: str) -> int:
        """The sequence number of the last change of ``guid`` (0 if unknown)."""
        return self._sequences.get(guid, 0)

    def add(self, doc: DocReplica) -> DocReplica:
        """Hold ``doc`` (new to this replica); it counts as changed. Raises
        LookupError if the share holds an unloaded doc of that guid (load it instead)."""
        if doc.guid in self._unloaded:
            raise LookupError(f"doc {doc.guid} is not loaded")
        self._docs[doc.guid] = doc
        self.touch(doc.guid)
        return doc

    def get_or_create(self, guid: str) -> DocReplica:
        """The loaded doc ``guid``, created empty if this replica does not hold it yet
        (LookupError if it is held but unloaded)."""
        doc = self._docs.get(guid)
        return doc if doc is not None else self.add(DocReplica(guid))

    def replace(self, doc: DocReplica) -> bool:
        """Hold ``doc``, loaded from its log, in place of any doc with its guid (a load
        or a reload). It counts as changed (returns True) if the share did not hold the
        doc or its recorded version differs (another process appended meanwhile)."""
        recorded = self._unloaded.pop(doc.guid, None)
        known = doc.guid in self._sequences
        self._docs[doc.guid] = doc
        changed = not known or (recorded is not None and recorded != doc.version())
        if changed:
            self.touch(doc.guid)
        return changed

    def unload(self, guid: str) -> DocReplica | None:
        """Drop the loaded doc ``guid`` from memory, keeping its version and sequence."""
        doc = self._docs.pop(guid, None)
        if doc is not None:
            self._unloaded[guid] = doc.version()
        return doc

    def register(self, guid: str, version: DocVersion, sequence: int) -> None:
        """Hold doc ``guid`` unloaded, at ``version`` with the sequence of its last
        change (start-up from the persisted index)."""
        self._docs.pop(guid, None)
        self._unloaded[guid] = version
        self._sequences[guid] = sequence
        self.max_sequence = max(self.max_sequence, sequence)
        self._changes_from = max(self._changes_from, sequence)

    def sequences(self) -> dict[str, int]:
        """Every doc's sequence number (a copy)."""
        return dict(self._sequences)

    def touch(self, guid: str) -> int:
        """Record that ``guid`` changed; returns its new sequence number."""
        self.max_sequence += 1
        self._sequences[guid] = self.max_sequence
        self._changes.append((self.max_sequence, guid))
        if len(self._changes) > len(self._sequences) + CHANGES_SLACK:
            self._changes = [(n, g) for n, g in self._changes if self._sequences[g] == n]
        return self.max_sequence

    def entries_since(self, sequence: int) -> list[IndexEntry]:
        """Index entries of the docs changed after ``sequence``, oldest change first."""
        if sequence >= self._changes_from:
            start = bisect.bisect_right(self._changes, sequence, key=lambda change: change[0])
            changed = [(n, g) for n, g in self._changes[start:] if self._sequences[g] == n]
        else:  # from before the start (a peer's first index): every doc is looked at
            changed = sorted((n, g) for g, n in self._sequences.items() if n > sequence)
        entries = []
        for s, g in changed:
            version = self.version(g)
            assert version is not None
            entries.append(IndexEntry(g, s, version))
        return entries

    def changed_since(self, sequence: int) -> set[str] | None:
        """The docs changed after ``sequence``; None if that is from before the changes
        this replica keeps (``_changes_from``: every doc would have to be looked at)."""
        if sequence < self._changes_from:
            return None
        start = bisect.bisect_right(self._changes, sequence, key=lambda change: change[0])
        return {guid for _, guid in self._changes[start:]}

    def entries_of(self, guids: Iterable[str], *, up_to: int) -> list[IndexEntry]:
        """Index entries of the docs ``guids`` we hold whose last change is at or before
        ``up_to``, oldest change first."""
        changed = sorted((s, g) for g in guids if 0 < (s := self._sequences.get(g, 0)) <= up_to)
        return [IndexEntry(g, s, version) for s, g in changed
                if (version := self.version(g)) is not None]  # fmt: skip

    def load(self, docs: Iterable[DocReplica]) -> None:
        """Hold every doc of ``docs`` (start-up)."""
        for doc in docs:
            self.add(doc)
