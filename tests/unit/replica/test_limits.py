"""Limits on what one authenticated peer can make the sync engine hold."""

from __future__ import annotations

import pycrdt

from p2psync.protocol.messages import Index, IndexEntry, SyncStep1, SyncStep2, Update
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.effects import Disconnect, Persist, Send
from p2psync.replica.inbound import MAX_DROPPED_NEW_DOCS, MAX_UNASKED_NEW_DOCS
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync

SHARE = b"s" * 16


def new_doc_update(client: int) -> bytes:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=client)
    doc.get("content", type=pycrdt.Text).insert(0, "x")
    return doc.get_update()


def test_unasked_new_docs_are_capped_then_the_peer_is_penalised() -> None:
    sync = ShareSync(ShareReplica(SHARE))
    sync.peer_up("peer")
    sync.peer_up("other")
    outcomes = []
    for i in range(MAX_UNASKED_NEW_DOCS + MAX_DROPPED_NEW_DOCS + 1):
        outcomes.append(sync.receive("peer", Update(SHARE, f"doc{i}", [new_doc_update(i + 1)])))
    assert len(sync.replica) == MAX_UNASKED_NEW_DOCS
    assert all(outcome == [] for outcome in outcomes[MAX_UNASKED_NEW_DOCS:-1])  # dropped
    last = outcomes[-1]
    assert len(last) == 1
    assert isinstance(last[0], Disconnect)
    assert last[0].penalty
    # Another peer is not affected by this one's budget.
    effects = sync.receive("other", Update(SHARE, "from-other", [new_doc_update(9999)]))
    assert "from-other" in sync.replica
    assert any(isinstance(e, Persist) for e in effects)
    # Until its link is gone, whatever the rejected peer still sends is ignored.
    assert sync.receive("peer", Update(SHARE, "late", [new_doc_update(4)])) == []


def test_docs_we_asked_for_are_not_counted() -> None:
    sync = ShareSync(ShareReplica(SHARE))
    sync.peer_up("peer")
    count = MAX_UNASKED_NEW_DOCS + 10
    entries = tuple(IndexEntry(f"doc{i}", i + 1, DocVersion({i + 1: 1}, bytes(16)))
                    for i in range(count))  # fmt: skip
    asked = sync.receive("peer", Index(SHARE, b"i" * 8, count, entries))
    assert len(asked) == count  # a SyncStep1 for each announced doc
    for i in range(count):
        sync.receive("peer", SyncStep2(SHARE, f"doc{i}", new_doc_update(i + 1)))
    assert len(sync.replica) == count
    # The budget for docs it creates unasked is still whole.
    for i in range(MAX_UNASKED_NEW_DOCS):
        sync.receive("peer", Update(SHARE, f"live{i}", [new_doc_update(50_000 + i)]))
    assert len(sync.replica) == count + MAX_UNASKED_NEW_DOCS


def test_a_flood_of_gaps_holds_nothing_and_asks_once() -> None:
    sync = ShareSync(ShareReplica(SHARE))
    sync.peer_up("peer")
    sync.receive("peer", Update(SHARE, "d", [new_doc_update(1)]))
    held = sync.replica.get("d")
    assert held is not None
    before = held.state_vector()
    asked = []
    for clock in range(10, 2010):
        gap = b"\x01\x01\x07" + bytes([clock & 0x7F | 0x80, clock >> 7]) + b"\x04\x01\x01c\x01x\x00"
        asked += [e for e in sync.receive("peer", Update(SHARE, "d", [gap])) if isinstance(e, Send)]
    assert [type(e.message) for e in asked] == [SyncStep1]
    assert held.state_vector() == before
