"""Randomized convergence: five replicas of a share over a faulty network.

Fault model: messages are reordered within and across links and duplicated; a link
can lose messages, which on a real connection means it broke, so a loss resets the
link (both ends see the peer go and come back); partitions cut sets of links for a
while and then heal. After healing every replica must hold the same documents, say
so through ``in_sync_with``, and a doc rebuilt from each replica's log must equal its
live doc.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from p2psync.protocol.messages import SyncMessage, Update
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import Disconnect, Effect, Persist, Reload, Send
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync
from tests.support.appedits import content, edit
from tests.support.updates import text_updates

SHARE = b"s" * 16
GUIDS = ["notes.md", "todo", "big"]
REPLICAS = 5


class Network:
    """Five ShareSync replicas, their logs, and the messages in flight between them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.syncs = [ShareSync(ShareReplica(SHARE)) for _ in range(REPLICAS)]
        self.logs: list[dict[str, list[bytes]]] = [defaultdict(list) for _ in range(REPLICAS)]
        self.in_flight: list[tuple[int, int, SyncMessage]] = []
        self.links_up: set[tuple[int, int]] = set()
        for a in range(REPLICAS):
            for b in range(a + 1, REPLICAS):
                self.connect(a, b)

    def run_effects(self, node: int, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Persist():
                    self.logs[node][effect.guid].extend(effect.updates)
                case Send():
                    assert isinstance(effect.peer, int)
                    if (min(node, effect.peer), max(node, effect.peer)) in self.links_up:
                        self.in_flight.append((node, effect.peer, effect.message))
                case Disconnect() | Reload():
                    pytest.fail(f"valid traffic was rejected: {effect}")

    def connect(self, a: int, b: int) -> None:
        self.links_up.add((a, b))
        self.run_effects(a, self.syncs[a].peer_up(b))
        self.run_effects(b, self.syncs[b].peer_up(a))

    def disconnect(self, a: int, b: int) -> None:
        self.links_up.discard((a, b))
        self.in_flight = [m for m in self.in_flight if {m[0], m[1]} != {a, b}]
        self.syncs[a].peer_down(b)
        self.syncs[b].peer_down(a)

    def deliver(self, index: int, *, keep: bool = False) -> None:
        src, dst, message = self.in_flight[index] if keep else self.in_flight.pop(index)
        self.run_effects(dst, self.syncs[dst].receive(src, message))

    def local_edit(self, node: int) -> None:
        guid = self.rng.choice(GUIDS)
        sync = self.syncs[node]
        update = edit(sync.replica.get_or_create(guid), self.rng)
        self.run_effects(node, sync.local_update(guid, update))

    def flush_indexes(self) -> None:
        for node, sync in enumerate(self.syncs):
            self.run_effects(node, sync.flush_index())

    def chaos_step(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            self.local_edit(rng.randrange(REPLICAS))
        elif roll < 0.30:
            self.flush_indexes()
        elif roll < 0.33 and self.in_flight:  # a loss breaks the connection it was on
            src, dst, _ = self.in_flight.pop(rng.randrange(len(self.in_flight)))
            link = (min(src, dst), max(src, dst))
            self.disconnect(*link)
            self.connect(*link)
        elif roll < 0.36 and self.in_flight:
            self.deliver(rng.randrange(len(self.in_flight)), keep=True)  # duplicate
        elif roll < 0.38 and self.links_up:
            self.disconnect(*rng.choice(sorted(self.links_up)))  # partition
        elif roll < 0.40:
            down = [
                (a, b)
                for a in range(REPLICAS)
                for b in range(a + 1, REPLICAS)
                if (a, b) not in self.links_up
            ]
            if down:
                self.connect(*rng.choice(down))  # heal one link
        elif self.in_flight:
            self.deliver(rng.randrange(len(self.in_flight)))  # reordered delivery

    def heal_and_settle(self) -> None:
        for a in range(REPLICAS):
            for b in range(a + 1, REPLICAS):
                if (a, b) not in self.links_up:
                    self.connect(a, b)
        for _ in range(10_000):
            if not self.in_flight:
                self.flush_indexes()
                if not self.in_flight:
                    return
            self.deliver(self.rng.randrange(len(self.in_flight)))
        pytest.fail("the network never went quiet")


@pytest.mark.parametrize("seed", range(40))
def test_replicas_converge_after_faults(seed: int) -> None:
    rng = random.Random(seed)
    net = Network(rng)
    for _ in range(400):
        net.chaos_step()
    net.heal_and_settle()

    reference = net.syncs[0].replica
    guids = sorted(reference.guids())
    assert guids, "no doc was ever edited"
    for node, sync in enumerate(net.syncs):
        assert sorted(sync.replica.guids()) == guids, f"replica {node} misses docs"
        for guid in guids:
            ours, theirs = sync.replica.get(guid), reference.get(guid)
            assert ours is not None
            assert theirs is not None
            assert ours.version() == theirs.version(), (node, guid)
            assert content(ours) == content(theirs), (node, guid)
            rebuilt = DocReplica(guid, net.logs[node][guid])
            assert rebuilt.version() == ours.version(), f"log of {node} differs for {guid}"
            assert content(rebuilt) == content(ours)
        for peer in range(REPLICAS):
            if peer != node:
                assert sync.in_sync_with(peer), (node, peer)


def test_a_malformed_update_disconnects_the_peer_after_keeping_valid_ones() -> None:
    sync = ShareSync(ShareReplica(SHARE))
    sync.peer_up("peer")
    good = edit(DocReplica("notes.md"), random.Random(1))
    effects = sync.receive("peer", Update(SHARE, "notes.md", [good, b"\xff\xff\xff"]))
    assert isinstance(effects[0], Persist)
    assert effects[0].updates
    assert isinstance(effects[-1], Disconnect)
    assert "notes.md" in effects[-1].reason


def test_live_updates_past_a_gap_trigger_a_resync_instead_of_piling_up() -> None:
    updates, text = text_updates(10)
    sender = ShareSync(ShareReplica(SHARE))
    receiver = ShareSync(ShareReplica(SHARE))
    sender.peer_up("r")
    receiver.peer_up("s")
    for update in updates:
        sender.local_update("doc", update)
    receiver.replica.get_or_create("doc")
    effects = receiver.receive("s", Update(SHARE, "doc", updates[5:]))  # 0..4 never came
    assert [type(e.message).__name__ for e in effects if isinstance(e, Send)] == ["SyncStep1"]
    step1 = next(e.message for e in effects if isinstance(e, Send))
    assert receiver.receive("s", Update(SHARE, "doc", updates[6:])) == []  # asked once
    [reply] = sender.receive("r", step1)
    assert isinstance(reply, Send)
    receiver.receive("s", reply.message)
    doc = receiver.replica.get("doc")
    assert doc is not None
    assert doc.text() == text
