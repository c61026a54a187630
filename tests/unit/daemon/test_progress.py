"""Sync percentages and ``share-in-sync`` events over two real sync engines."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from p2psync.config import FolderMode
from p2psync.daemon.events import EventBus
from p2psync.daemon.progress import (
    SyncProgress,
    member_sync_pct,
    share_in_sync,
    share_remaining_docs,
    share_sync_pct,
)
from p2psync.daemon.shares import ShareService
from p2psync.daemon.sharestatus import transfer_status
from p2psync.ids import ShareId
from p2psync.protocol.messages import SyncMessage, SyncStep2
from p2psync.replica.effects import Effect, Send
from p2psync.replica.membership import MemberPolicy
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync
from p2psync.replica.transfer import Sending
from tests.support.updates import text_updates

SHARE = ShareId.new()


class Pair:
    """Engines "a" and "b" joined by an in-order wire that is pumped by hand."""

    def __init__(self) -> None:
        self.syncs = {name: ShareSync(ShareReplica(SHARE.raw)) for name in "ab"}
        self.wire: deque[tuple[str, SyncMessage]] = deque()
        self._senders: deque[str] = deque()

    def queue(self, sender: str, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self.wire.append((str(effect.peer), effect.message))
                self._senders.append(sender)

    def connect(self) -> None:
        self.queue("a", self.syncs["a"].peer_up("b"))
        self.queue("b", self.syncs["b"].peer_up("a"))

    def step(self) -> bool:
        """Deliver one message; False when the wire is empty."""
        if not self.wire:
            return False
        to, message = self.wire.popleft()
        sender = self._senders.popleft()
        if isinstance(message, SyncStep2):  # written to the wire, as a link does
            self.syncs[sender].wrote(to, message)
        self.queue(to, self.syncs[to].receive(sender, message))
        return True

    def settle(self) -> None:
        while self.step() or self._flush():
            pass

    def _flush(self) -> bool:
        for name, sync in self.syncs.items():
            self.queue(name, sync.flush_index())
        return bool(self.wire)


def test_a_send_only_member_whose_copy_lacks_our_edits_counts_as_in_sync() -> None:
    # b is send-only: it ignores a's edits, so its copy never holds them, and that is
    # what in sync means for it; the counts behind the percentages must agree.
    pair = Pair()
    a, b = pair.syncs["a"], pair.syncs["b"]
    a.change_policy(MemberPolicy(FolderMode.SEND_RECEIVE, {"b": FolderMode.SEND_ONLY}))
    b.change_policy(MemberPolicy(FolderMode.SEND_ONLY, {"a": FolderMode.SEND_RECEIVE}))
    pair.connect()
    a.local_update("from-a", text_updates(1)[0][0])
    b.local_update("from-b", text_updates(1)[0][0])
    pair.settle()
    assert a.in_sync_with("b")
    assert b.in_sync_with("a")
    assert a.sync_counts("b") == (2, 2)  # what the percentage is made of while syncing
    assert b.sync_counts("a") == (2, 2)


def test_a_joiner_counts_the_docs_it_still_misses() -> None:
    pair = Pair()
    a, b = pair.syncs["a"], pair.syncs["b"]
    for guid in ("one", "two", "three"):
        a.local_update(guid, text_updates(1)[0][0])
    assert member_sync_pct(a, "b") == 0.0  # not connected
    assert share_sync_pct(a) is None
    pair.connect()
    while b.sync_counts("a")[1] < 3:  # until a's index reached b
        assert pair.step()
    assert b.sync_counts("a") == (0, 3)
    assert member_sync_pct(b, "a") == 0.0
    pair.settle()
    assert member_sync_pct(a, "b") == member_sync_pct(b, "a") == 100.0
    assert share_sync_pct(a) == 100.0
    assert share_in_sync(a)
    assert share_in_sync(b)


def test_a_first_sync_counts_down_the_docs_to_come() -> None:
    pair = Pair()
    a, b = pair.syncs["a"], pair.syncs["b"]
    for number in range(20):
        a.local_update(f"doc-{number}", text_updates(1)[0][0])
    assert share_remaining_docs(b) == 0  # no member connected: nothing measured
    pair.connect()
    while b.sync_counts("a")[1] < 20:  # until a's index reached b
        assert pair.step()
    assert share_remaining_docs(b) == 20
    seen = [share_remaining_docs(b)]
    pcts = [share_sync_pct(b)]
    while pair.step():
        seen.append(share_remaining_docs(b))
        pcts.append(share_sync_pct(b))
    pair.settle()
    seen.append(share_remaining_docs(b))
    assert seen == sorted(seen, reverse=True)  # it only falls
    assert seen[-1] == 0
    assert share_remaining_docs(a) == 0
    assert len(set(seen)) > 10  # one doc at a time, not all at once
    assert any(pct is not None and 0 < pct < 100 for pct in pcts)  # the bar moves
    assert share_sync_pct(b) == 100.0


def test_a_member_behind_never_shows_100() -> None:
    almost = SimpleNamespace(
        in_sync_with=lambda peer: False, sync_counts=lambda peer: (9999, 10000)
    )
    assert member_sync_pct(cast(ShareSync, almost), "b") == 99.9
    pair = Pair()
    a = pair.syncs["a"]
    pair.connect()
    pair.settle()
    a.local_update("late", text_updates(1)[0][0])
    assert member_sync_pct(a, "b") == 0.0
    assert not share_in_sync(a)


def test_share_in_sync_is_announced_once_per_change() -> None:
    pair = Pair()
    a = pair.syncs["a"]
    mirror = SimpleNamespace(settled=False)  # a first sync's files still being written
    service = SimpleNamespace(sync=a, root=Path("/share"), mirror=mirror, stopped=None)
    bus = EventBus()
    published: list[dict[str, Any]] = []
    bus.publish = lambda type_, **fields: published.append({"type": type_, **fields})  # type: ignore[method-assign]
    progress = SyncProgress(lambda: cast(dict[ShareId, ShareService], {SHARE: service}), bus)
    progress.check()
    assert published == []  # nobody connected: not in sync
    pair.connect()
    pair.settle()
    progress.check()
    assert published == []  # the docs are in sync, the files not all written
    mirror.settled = True
    progress.check()
    progress.check()
    assert [(e["type"], e["docs"], e["members"]) for e in published] == [
        ("share-in-sync", 0, ["b"])
    ]
    a.local_update("notes", text_updates(1)[0][0])
    pair.settle()  # synced before the next check: still announced
    progress.check()
    assert [e["docs"] for e in published] == [0, 1]
    pair.settle()
    progress.check()
    assert len(published) == 2


def test_a_first_sync_counts_the_docs_and_bytes_that_arrived() -> None:
    pair = Pair()
    a, b = pair.syncs["a"], pair.syncs["b"]
    for number in range(20):
        a.local_update(f"doc-{number}", text_updates(1)[0][0])
    assert b.transfer("a") is None  # not connected
    pair.connect()
    while not (b.transfer("a") or (set(), set(), 0, None))[0]:  # until b asked a for docs
        assert pair.step()
    seen: list[tuple[int, int, int]] = []
    while pair.step():
        asked, received, received_bytes, _ = b.transfer("a") or (set(), set(), 0, None)
        seen.append((len(asked), len(received), received_bytes))
    pair.settle()
    assert seen[-1][:2] == (20, 20)  # every doc asked, every one arrived
    received_counts = [received for _, received, _ in seen]
    assert received_counts == sorted(received_counts)  # only grows
    assert any(0 < received < 20 for received in received_counts)  # one doc at a time
    byte_counts = [received_bytes for _, _, received_bytes in seen]
    assert byte_counts == sorted(byte_counts)
    assert byte_counts[-1] > 0
    assert any(0 < count < byte_counts[-1] for count in byte_counts)  # as they arrive
    # a later change asks again: a new transfer of one doc, the last one forgotten
    a.local_update("doc-0", text_updates(2)[0][1])
    pair.queue("a", a.flush_index())
    pair.settle()
    transfer = b.transfer("a")
    assert transfer is not None
    assert (len(transfer[0]), len(transfer[1])) == (1, 1)


def test_a_first_sync_counts_bytes_expected_from_the_sizes_a_sender_announces() -> None:
    pair = Pair()
    a, b = pair.syncs["a"], pair.syncs["b"]
    sizes = {f"doc-{number}": 100 + number for number in range(20)}
    a.sizes = sizes.get  # what the daemon takes from the docs' logs
    for guid in sizes:
        a.local_update(guid, text_updates(1)[0][0])
    pair.connect()
    while not (b.transfer("a") or (set(), set(), 0, None))[0]:
        assert pair.step()
    seen: list[tuple[int, int | None, int, int]] = []  # b: received, expected; a: sent, to send
    while pair.step():
        *_, received_bytes, expected_bytes = b.transfer("a") or (set(), set(), 0, None)
        _, whole, lacking = a.sending("b") or ({}, set(), set())
        seen.append((received_bytes, expected_bytes, len(whole), len(whole | lacking)))
    assert seen[0][1] == sum(sizes.values())  # known once asked, before any answer came
    assert any(0 < got < (expected or 0) for got, expected, *_ in seen)  # as they arrive
    assert seen[-1][0] == seen[-1][1]  # once all arrived: what came, exactly
    # the sender counts its answers of the docs b lacks: some, then all
    assert all(to_send == 20 for *_, to_send in seen)
    assert any(0 < sent < 20 for _, _, sent, _ in seen)
    assert seen[-1][2] == 20
    pair.settle()
    written, whole, lacking = a.sending("b") or ({}, set(), {"?"})
    assert (len(whole), lacking) == (20, set())  # b's index confirmed them all
    assert sum(written.values()) == seen[-1][0]  # the bytes a sent are those b got
    # a later change is a new transfer on both sides
    a.local_update("doc-0", text_updates(2)[0][1])
    pair.queue("a", a.flush_index())
    pair.settle()
    assert (a.sending("b") or ({}, set(), set()))[1] == {"doc-0"}
    transfer = b.transfer("a")
    assert transfer is not None
    assert transfer[3] == transfer[2]


def test_a_sender_counts_as_sent_what_the_peers_index_says_it_holds() -> None:
    """What a link wrote is not sent yet (the connection's buffers take megabytes, and
    a peer stopped or asleep holds none of it): ``status`` counts a file sent once the
    peer's index says it holds our version of it, and the bytes of our answers to
    those files."""
    pair = Pair()
    a, b = pair.syncs["a"], pair.syncs["b"]
    for number in range(20):
        a.local_update(f"doc-{number}", text_updates(1)[0][0])
    service = cast(ShareService, SimpleNamespace(sync=a))
    pair.connect()
    while pair.step():  # every answer written and taken in; b's index not flushed yet
        pass
    written, whole, lacking = a.sending("b") or ({}, set(), set())
    assert (len(whole), len(lacking)) == (20, 20)
    status = transfer_status(service, "b")
    assert (status["files_sent"], status["files_to_send"], status["bytes_sent"]) == (0, 20, 0)
    assert status["bytes_to_send"] == sum(written.values()) > 0
    pair.queue("b", b.flush_index())
    pair.settle()
    status, received = transfer_status(service, "b"), b.transfer("a")
    assert received is not None
    assert (status["files_sent"], status["files_to_send"]) == (20, 20)
    assert status["bytes_sent"] == status["bytes_to_send"] == received[2]


def test_a_peer_that_announces_no_sizes_leaves_the_bytes_expected_unknown() -> None:
    pair = Pair()
    a, b = pair.syncs["a"], pair.syncs["b"]  # a's sizes are unknown: an older peer's index
    for number in range(5):
        a.local_update(f"doc-{number}", text_updates(1)[0][0])
    pair.connect()
    while not (b.transfer("a") or (set(), set(), 0, None))[0]:
        assert pair.step()
    transfer = b.transfer("a")
    assert transfer is not None
    assert transfer[3] is None
    pair.settle()
    transfer = b.transfer("a")
    assert transfer is not None
    assert len(transfer[1]) == 5  # it synced all the same
    assert transfer[3] == transfer[2]  # nothing outstanding: the bytes that came


def test_answers_written_in_paced_batches_are_one_transfer() -> None:
    """A link paced by a send limit writes a batch, then waits, and the peer confirms
    that batch meanwhile: answers queued before are the same transfer (counted from
    each pause, a first sync read "241 of 751 files", then "241 of 510"). An answer
    queued once every one before was written and confirmed starts a new one."""
    sending = Sending()
    for guid in ("doc-1", "doc-2"):
        sending.answering(guid)
    sending.wrote("doc-1", 10, last=True)
    sending.confirmed("doc-1")  # during the pause
    sending.wrote("doc-2", 20, last=True)  # the next paced batch
    assert (sending.whole, sending.written) == ({"doc-1", "doc-2"}, {"doc-1": 10, "doc-2": 20})
    sending.confirmed("doc-2")
    sending.answering("doc-3")  # a later change
    sending.wrote("doc-3", 30, last=True)
    assert (sending.whole, sending.written) == ({"doc-3"}, {"doc-3": 30})
