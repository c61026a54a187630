"""A peer with more docs than ``ASK_WINDOW`` to send: the engine asks for them a window
at a time, each answer making room for the next question, so that a first sync of any
size never fills the link's send queue with questions; progress counts every doc
from the start, and what is remembered of the peer leaves out the docs still waiting."""

from __future__ import annotations

import pycrdt
import pytest

from p2psync.protocol.messages import Index, SyncMessage, SyncStep1, SyncStep2
from p2psync.replica import peerstate
from p2psync.replica.effects import Effect, Send
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync

SHARE = b"s" * 16
WINDOW = 8
DOCS = 30


def text_update(text: str) -> bytes:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=7)
    doc.get("content", type=pycrdt.Text).insert(0, text)
    return doc.get_update()


def sends(effects: list[Effect]) -> list[Send]:
    return [e for e in effects if isinstance(e, Send)]


@pytest.fixture
def window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peerstate, "ASK_WINDOW", WINDOW)


@pytest.mark.usefixtures("window")
def test_a_large_first_sync_asks_a_window_of_docs_at_a_time() -> None:
    a, b = ShareSync(ShareReplica(SHARE)), ShareSync(ShareReplica(SHARE))
    for i in range(DOCS):
        a.local_update(f"doc{i}", text_update(f"text {i}"))
    wire: list[tuple[str, Send]] = [("a", s) for s in sends(a.peer_up("b"))]
    wire += [("b", s) for s in sends(b.peer_up("a"))]
    outstanding = most = 0
    counted: list[int] = []
    while wire:
        source, send = wire.pop(0)
        message: SyncMessage = send.message
        if source == "b" and isinstance(message, SyncStep1):
            outstanding += 1
            most = max(most, outstanding)
        if source == "a" and isinstance(message, SyncStep2) and not message.more:
            outstanding -= 1
        target = b if source == "a" else a
        effects = target.receive(source, message)
        if source == "a" and isinstance(message, Index):
            transfer = b.transfer("a")
            assert transfer is not None
            counted.append(len(transfer[0]))
        wire += [("b" if target is b else "a", s) for s in sends(effects)]
        if not wire:
            wire += [("a", s) for s in sends(a.flush_index())]
            wire += [("b", s) for s in sends(b.flush_index())]
    assert most == WINDOW
    assert max(counted) == DOCS  # every doc the index announced is in the transfer at once
    assert all(b.replica.get(f"doc{i}") is not None for i in range(DOCS))
    assert b.in_sync_with("a")
    assert a.in_sync_with("b")


@pytest.mark.usefixtures("window")
def test_docs_still_waiting_their_turn_are_asked_again_after_the_link_goes() -> None:
    # b gets the answers to its first window of questions, then the link goes before
    # any other answer: what b remembers of a's index stops before the first doc it
    # still lacks, asked or waiting, so its next link brings their entries again.
    a, b = ShareSync(ShareReplica(SHARE)), ShareSync(ShareReplica(SHARE))
    for i in range(DOCS):
        a.local_update(f"doc{i}", text_update(f"text {i}"))
    a.peer_up("b")
    request = sends(b.peer_up("a"))[0].message
    asked = [
        s.message for e in sends(a.receive("b", request)) for s in sends(b.receive("a", e.message))
    ]
    assert [m.guid for m in asked if isinstance(m, SyncStep1)] == [f"doc{i}" for i in range(WINDOW)]
    for question in asked:
        for answer in sends(a.receive("b", question)):
            b.receive("a", answer.message)  # the next questions it makes are lost with the link
    b.peer_down("a")
    _, sequence, versions = b.remembered()["a"]
    assert set(versions) == {f"doc{i}" for i in range(WINDOW)}
    assert sequence == a.replica.sequence_of(f"doc{WINDOW}") - 1


@pytest.mark.usefixtures("window")
def test_questions_held_wait_until_resumed_but_never_the_urgent_ones() -> None:
    # The daemon holds questions while its mirror is behind the docs stored; the
    # share's manifest (urgent) is asked for anyway: no file is written without it.
    a, b = ShareSync(ShareReplica(SHARE)), ShareSync(ShareReplica(SHARE))
    for i in range(DOCS):
        a.local_update(f"doc{i}", text_update(f"text {i}"))
    held = True
    b.hold_asks = lambda: held
    b.urgent = frozenset({"doc29"})
    a.peer_up("b")
    request = sends(b.peer_up("a"))[0].message
    asked = [
        s.message for e in sends(a.receive("b", request)) for s in sends(b.receive("a", e.message))
    ]
    assert [m.guid for m in asked if isinstance(m, SyncStep1)] == ["doc29"]
    assert b.resume_asks() == []  # still held
    held = False
    resumed = [s.message for s in sends(b.resume_asks())]
    assert [m.guid for m in resumed if isinstance(m, SyncStep1)] == [
        f"doc{i}" for i in range(WINDOW - 1)
    ]
