"""``ShareSync.in_sync_with``, ``sync_counts`` and ``sending`` keep their answers until
something they read changes: asked again and again (a status every second), they
pass over the docs once; and after any step of two engines syncing, in any order,
they say exactly what a pass over every doc says."""

from __future__ import annotations

import random
from typing import Any

import pycrdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.config import FolderMode
from p2psync.protocol.messages import EMPTY_STATE_VECTOR, Index, IndexRequest, SyncStep1
from p2psync.replica import peerstate, touched
from p2psync.replica import sync as sync_module
from p2psync.replica.effects import Effect, Send
from p2psync.replica.membership import MemberPolicy
from p2psync.replica.peertally import PeerTally
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync

SHARE = b"s" * 16
SMALL_FRAMES = 2_048
"""Frames this small split an index of a few dozen docs into several messages."""


class Pair:
    """Two engines, ``a`` and ``b``, and the messages on their way between them."""

    def __init__(self, rng: random.Random, *, modes: bool = False) -> None:
        self.rng = rng
        self.modes = modes
        self.syncs = {
            name: ShareSync(ShareReplica(SHARE), max_frame_bytes=SMALL_FRAMES) for name in "ab"
        }
        self.wire: list[tuple[str, Send]] = []
        self.up = False

    def other(self, name: str) -> str:
        return "b" if name == "a" else "a"

    def send(self, source: str, effects: list[Effect]) -> None:
        self.wire += [(source, e) for e in effects if isinstance(e, Send)]

    def edit(self, name: str) -> None:
        sync = self.syncs[name]
        guid = f"doc{self.rng.randrange(40)}"
        if guid in sync.replica and not sync.replica.is_loaded(guid):
            return
        doc = sync.replica.get_or_create(guid)
        client: pycrdt.Doc[Any] = pycrdt.Doc(client_id=self.rng.randrange(1, 2**31))
        client.apply_update(doc.full_state())
        before = client.get_state()
        text = client.get("content", type=pycrdt.Text)
        text.insert(len(text), f"{name}{self.rng.randrange(1000)} ")
        self.send(name, sync.local_update(guid, client.get_update(before)))

    def deliver(self) -> None:
        if self.wire:
            source, effect = self.wire.pop(0)
            target = str(effect.peer)
            if self.up:
                self.send(target, self.syncs[target].receive(source, effect.message))

    def link(self) -> None:
        if self.up:
            for name, sync in self.syncs.items():
                sync.peer_down(self.other(name))
            self.wire.clear()
        self.up = True
        for name, sync in self.syncs.items():
            self.send(name, sync.peer_up(self.other(name)))

    def flush(self, name: str) -> None:
        self.send(name, self.syncs[name].flush_index())

    def mode(self, name: str) -> None:
        mode = self.rng.choice(list(FolderMode))
        self.send(
            name, self.syncs[name].change_policy(MemberPolicy(peers={self.other(name): mode}))
        )

    def settle(self) -> None:
        """Deliver, and flush both indexes, until nothing more is sent."""
        while True:
            while self.wire:
                self.deliver()
            self.flush("a")
            self.flush("b")
            if not self.wire:
                return

    def step(self) -> None:
        weights = [20, 60, 10, 2, 2 if self.modes else 0]
        what = self.rng.choices(["edit", "deliver", "flush", "link", "mode"], weights)[0]
        name = self.rng.choice("ab")
        if what == "edit":
            self.edit(name)
        elif what == "deliver":
            self.deliver()
        elif what == "flush":
            self.flush(name)
        elif what == "link":
            self.link()
        else:
            self.mode(name)

    def check(self) -> None:
        """Each engine's kept answers are what a pass over every doc finds now."""
        for name, sync in self.syncs.items():
            peer = self.other(name)
            state = sync._state.peers.get(peer)
            if state is None:
                assert not sync.in_sync_with(peer)
                assert sync.sync_counts(peer) == (0, 0)
                assert sync.sending(peer) is None
                continue
            found = peerstate.in_sync(peer, state, sync.replica, sync.policy)
            counts = peerstate.sync_counts(peer, state, sync.replica, sync.policy)
            lacking = peerstate.docs_to_send(peer, state, sync.replica, sync.policy)
            assert sync.in_sync_with(peer) == found
            assert sync.sync_counts(peer) == counts
            sending = sync.sending(peer)
            assert sending is not None
            assert sending[2] == lacking


@pytest.mark.parametrize("seed", range(12))
def test_kept_answers_are_always_what_a_pass_over_every_doc_finds(seed: int) -> None:
    # Odd seeds change the members' modes too: then what one side refused may stay
    # unsynced, and only the kept answers' truth is checked, not the end state.
    modes = seed % 2 == 1
    pair = Pair(random.Random(seed), modes=modes)
    pair.link()
    for _ in range(1_500):
        pair.step()
        pair.check()
    pair.settle()
    pair.check()
    if not modes:
        assert pair.syncs["a"].in_sync_with("b")
        assert pair.syncs["b"].in_sync_with("a")


def test_a_status_asked_again_and_again_passes_over_the_docs_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pair = Pair(random.Random(7))
    pair.link()
    for _ in range(30):
        pair.edit("a")
    pair.settle()
    docs = len(pair.syncs["a"].replica)
    passes: list[str] = []
    judged: list[int] = []
    in_sync, judge = peerstate.in_sync, PeerTally.judge

    def counted_in_sync(*args: Any) -> bool:
        passes.append("in_sync")
        return in_sync(*args)

    def counted_judge(tally: PeerTally, guids: set[str], replica: ShareReplica) -> None:
        judged.append(len(guids))
        judge(tally, guids, replica)

    monkeypatch.setattr(sync_module, "in_sync", counted_in_sync)
    monkeypatch.setattr(PeerTally, "judge", counted_judge)
    b = pair.syncs["b"]
    for _ in range(10):
        assert b.in_sync_with("a")
        assert b.sync_counts("a") == (docs, docs)
    assert passes == ["in_sync"]
    assert judged == [docs]  # every doc, once
    pair.edit("a")  # a change on its way: asked again, found again, once
    pair.deliver()
    for _ in range(10):
        b.in_sync_with("a")
        b.sync_counts("a")
    assert passes == ["in_sync", "in_sync"]
    assert judged == [docs, 1]  # then only the doc that changed


def test_a_doc_a_peer_lacks_and_was_told_of_is_unasked_until_it_asks() -> None:
    """What is to send and why it does not go: a doc the peer's index says it lacks,
    announced to it on this link, waits for its question (``unasked``)."""
    b = ShareSync(ShareReplica(SHARE))
    doc = b.replica.get_or_create("doc")
    client: pycrdt.Doc[Any] = pycrdt.Doc(client_id=7)
    before = client.get_state()
    client.get("content", type=pycrdt.Text).insert(0, "text")
    b.local_update("doc", client.get_update(before))
    assert b.unasked("a") is None  # not connected
    b.peer_up("a")
    assert b.unasked("a") == set()  # its index has not come
    b.receive("a", IndexRequest(SHARE, b"", 0))  # the entry of "doc" goes to it
    b.receive("a", Index(SHARE, b"a-index1", 0, ()))  # it holds nothing
    assert b.sending("a") == ({}, set(), {"doc"})
    assert b.unasked("a") == {"doc"}
    b.receive("a", SyncStep1(SHARE, "doc", EMPTY_STATE_VECTOR))  # it asks: answered
    assert b.unasked("a") == set()
    assert doc.text() == "text"


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.booleans())
def test_kept_counts_equal_a_pass_over_every_doc_after_any_run(
    rng: random.Random, modes: bool
) -> None:
    """The counts kept from one look to the next (``replica.peertally``), asked after
    each step of two engines syncing, editing, relinking and changing modes."""
    pair = Pair(rng, modes=modes)
    pair.link()
    for _ in range(200):
        pair.step()
        pair.check()


def test_a_peer_with_another_index_is_counted_anew() -> None:
    """A peer whose share lost its index announces another: what its old one said is
    forgotten, and every doc it announced counts as it does now."""
    pair = Pair(random.Random(3))
    pair.link()
    for _ in range(10):
        pair.edit("a")
    pair.settle()
    b = pair.syncs["b"]
    docs = len(b.replica)
    assert b.sync_counts("a") == (docs, docs)
    b.receive("a", Index(SHARE, b"another-index", 0, ()))
    pair.check()
    assert b.sync_counts("a") == (0, docs)


def test_docs_registered_past_the_changes_kept_are_counted_anew() -> None:
    """A doc read again at start-up is registered at a sequence of its own, not as a
    change the replica keeps (``ShareReplica.changed_since``): everything is counted."""
    pair = Pair(random.Random(5))
    pair.link()
    for _ in range(10):
        pair.edit("a")
    pair.settle()
    b, a = pair.syncs["b"], pair.syncs["a"]
    docs = len(b.replica)
    assert b.sync_counts("a") == (docs, docs)
    version = a.replica.version("doc-extra") or next(
        v for g in a.replica.guids() if (v := a.replica.version(g)) is not None
    )
    b.replica.register("doc-extra", version, b.replica.max_sequence + 1)
    pair.check()
    assert b.sync_counts("a")[1] == docs + 1


def test_kept_counts_hold_when_more_docs_are_touched_than_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond ``TOUCHED_KEPT`` docs touched between two looks, every doc is counted."""
    monkeypatch.setattr(touched, "TOUCHED_KEPT", 3)
    pair = Pair(random.Random(99), modes=True)
    pair.link()
    for _ in range(800):
        pair.step()
        if pair.rng.random() < 0.2:
            pair.check()
    pair.check()
