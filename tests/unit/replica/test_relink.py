"""A simultaneous dial, interleaving by interleaving: two engines, two links.

Both devices dial each other at once, so two links come up between them; both ends
keep link 1 (the tie-break in daemon.peers) and close link 2. Each end sees one of:

- ``replace``: link 2 registered, then link 1 replaces it (the old link goes down
  before the new one comes up);
- ``overlap``: the same, but the new link comes up before the old one's teardown,
  which then finds itself replaced and leaves the engine alone;
- ``eof``: link 2 registered, closed by the other end, then link 1;
- ``reject``: link 1 first; link 2 is refused as a duplicate and never used.

Messages go out on the link that is current at the sender (``send`` routes by
device), each link is FIFO per direction, and whatever is in flight on link 2 when
an end leaves it is lost at that end. A seeded schedule interleaves deliveries, the
scripted link events and live edits; after it, link 1 carries everything until
quiet. Both replicas must then hold the same docs and say they are in sync.
"""

from __future__ import annotations

import itertools
import random
from collections import deque

import pytest

from p2psync.protocol.messages import SyncMessage
from p2psync.replica.effects import Disconnect, Effect, Send
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync
from tests.support.appedits import content, edit

SHARE = b"s" * 16
SIDES = ("a", "b")
SCRIPTS = {
    "replace": ("up2", "up1"),
    "overlap": ("up2", "up1-first"),
    "eof": ("up2", "eof2", "up1"),
    "reject": ("up1",),
}
Link = int


class Relink:
    """Two engines joined by two links, stepped by hand."""

    def __init__(self, rng: random.Random, scripts: dict[str, tuple[str, ...]]) -> None:
        self.rng = rng
        self.syncs = {side: ShareSync(ShareReplica(SHARE)) for side in SIDES}
        self.current: dict[str, Link | None] = dict.fromkeys(SIDES)
        self.left: dict[str, set[Link]] = {side: set() for side in SIDES}
        self.uses = {side: {int(e[2]) for e in script if e.startswith("up")}
                     for side, script in scripts.items()}  # fmt: skip
        self.todo = {side: deque(script) for side, script in scripts.items()}
        self.wires: dict[tuple[Link, str], deque[SyncMessage]] = {
            (link, side): deque() for link in (1, 2) for side in SIDES
        }  # (link, receiving side)
        self.edits = itertools.count(1)
        for side, guids in (("a", ["notes.md", "todo"]), ("b", ["plan"])):
            for guid in guids:
                self.local_edit(side, guid)

    @staticmethod
    def other(side: str) -> str:
        return "b" if side == "a" else "a"

    def run(self, side: str, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Disconnect):
                pytest.fail(f"valid traffic was rejected: {effect}")
            link = self.current[side]
            if isinstance(effect, Send) and link is not None:
                peer = self.other(side)
                if link in self.uses[peer] and link not in self.left[peer]:
                    self.wires[(link, peer)].append(effect.message)

    def local_edit(self, side: str, guid: str) -> None:
        sync = self.syncs[side]
        update = edit(sync.replica.get_or_create(guid), random.Random(next(self.edits)))
        self.run(side, sync.local_update(guid, update))

    def link_event(self, side: str, event: str) -> None:
        sync, peer = self.syncs[side], self.other(side)
        old = self.current[side]
        if event == "eof2":  # the other end closed link 2: its task ends
            self.leave(side, 2)
            if old == 2:
                sync.peer_down(peer)
                self.current[side] = None
            return
        link = int(event[2])
        if old is not None:
            self.leave(side, old)
            if not event.endswith("-first"):
                sync.peer_down(peer)  # the old link's teardown runs first
        self.current[side] = link
        self.run(side, sync.peer_up(peer))

    def leave(self, side: str, link: Link) -> None:
        """``side`` stops reading ``link``: what was on its way to it is lost."""
        self.left[side].add(link)
        self.wires[(link, side)].clear()

    def deliverable(self) -> list[tuple[Link, str]]:
        return [
            (link, side)
            for (link, side), queue in self.wires.items()
            if queue and self.current[side] == link
        ]

    def deliver(self, link: Link, side: str) -> None:
        message = self.wires[(link, side)].popleft()
        self.run(side, self.syncs[side].receive(self.other(side), message))

    def step(self) -> bool:
        """One random step of the race; False once the link events are all done."""
        choices: list[tuple[str, object]] = [("deliver", w) for w in self.deliverable()]
        choices += [("event", side) for side in SIDES if self.todo[side]]
        if not any(kind == "event" for kind, _ in choices):
            return False
        kind, what = self.rng.choice(choices)
        if kind == "deliver":
            assert isinstance(what, tuple)
            self.deliver(*what)
        else:
            assert isinstance(what, str)
            self.link_event(what, self.todo[what].popleft())
        if self.rng.random() < 0.1:
            side = self.rng.choice(SIDES)
            self.local_edit(side, self.rng.choice(["notes.md", "todo", "plan", "new"]))
        return True

    def settle(self) -> None:
        assert self.current == {"a": 1, "b": 1}
        for _ in range(10_000):
            ready = self.deliverable()
            if not ready:
                for side in SIDES:
                    self.run(side, self.syncs[side].flush_index())
                ready = self.deliverable()
                if not ready:
                    return
            self.deliver(*ready[0])
        pytest.fail("the link never went quiet")

    def assert_converged(self) -> None:
        a, b = self.syncs["a"], self.syncs["b"]
        assert sorted(a.replica.guids()) == sorted(b.replica.guids())
        for guid in a.replica.guids():
            ours, theirs = a.replica.get(guid), b.replica.get(guid)
            assert ours is not None
            assert theirs is not None
            assert ours.version() == theirs.version(), guid
            assert content(ours) == content(theirs), guid
        assert a.in_sync_with("b")
        assert b.in_sync_with("a")


PAIRS = list(itertools.product(SCRIPTS, repeat=2))


@pytest.mark.parametrize(("script_a", "script_b"), PAIRS)
@pytest.mark.parametrize("seed", range(25))
def test_the_surviving_link_converges_whatever_the_losing_one_carried(
    script_a: str, script_b: str, seed: int
) -> None:
    rng = random.Random(f"{script_a}/{script_b}/{seed}")
    race = Relink(rng, {"a": SCRIPTS[script_a], "b": SCRIPTS[script_b]})
    while race.step():
        pass
    race.settle()
    race.assert_converged()


def test_an_index_answered_on_the_losing_link_is_asked_again_on_the_winner() -> None:
    """The exact race: b reads a's index on link 2 and asks for its docs, and link 2
    closes before the answer. On link 1 b must ask again, although it has seen a's
    index up to its last sequence."""
    race = Relink(random.Random(0), {"a": SCRIPTS["replace"], "b": SCRIPTS["replace"]})
    race.link_event("a", "up2")
    race.link_event("b", "up2")
    race.deliver(2, "b")  # a's IndexRequest
    race.deliver(2, "a")  # b's IndexRequest: a answers with its index
    race.deliver(2, "a")  # b's index (its one doc): a asks for it
    race.deliver(2, "b")  # a's index: b asks for notes.md and todo
    assert race.wires[(2, "a")]  # b's questions, never to be answered
    race.link_event("a", "up1")
    race.link_event("b", "up1")
    race.settle()
    race.assert_converged()


def _linked_with_a_new_doc() -> tuple[Relink, ShareSync, ShareSync]:
    """Two linked peers in sync, then a new doc ``todo`` made at ``a`` (not delivered
    yet): the race and the two engines."""
    race = Relink(random.Random(0), {"a": SCRIPTS["reject"], "b": SCRIPTS["reject"]})
    race.link_event("a", "up1")
    race.link_event("b", "up1")
    race.settle()
    race.local_edit("a", "todo")
    return race, race.syncs["a"], race.syncs["b"]


def test_a_peer_down_with_questions_open_is_remembered_before_them() -> None:
    """What is persisted (``remembered``) and what a reconnect asks from stop before
    the first doc asked for and not received; the other docs stay known."""
    race, a, b = _linked_with_a_new_doc()
    race.local_edit("a", "later")
    race.wires[(1, "b")].clear()  # the live updates are lost (the link is breaking)
    race.run("a", a.flush_index())
    race.deliver(1, "b")  # the index delta: b asks for todo and later
    index_id, max_sequence, versions = b.remembered()["a"]
    assert max_sequence == a.replica.sequence_of("todo") - 1
    assert set(versions) == {"notes.md", "plan"}
    b.peer_down("a")
    assert b.remembered()["a"] == (index_id, max_sequence, versions)


def test_what_is_persisted_stops_before_a_doc_received_but_not_durable() -> None:
    """A doc received and held in memory, its group of new docs not stored yet
    (``daemon.arrivals``), counts as not received in what is persisted: a crash then
    makes the next start ask for it again. Once durable it counts again, connected or
    not."""
    race, a, b = _linked_with_a_new_doc()
    race.settle()
    assert "todo" in b.replica
    everything = b.remembered()["a"]
    index_id, max_sequence, versions = b.remembered(unstored={"todo"})["a"]
    assert max_sequence == a.replica.sequence_of("todo") - 1
    assert set(versions) == set(everything[2]) - {"todo"}
    b.peer_down("a")
    assert b.remembered(unstored={"todo"})["a"] == (index_id, max_sequence, versions)
    assert b.remembered()["a"] == everything
