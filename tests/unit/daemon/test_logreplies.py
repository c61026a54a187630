"""Questions about unloaded docs answered from their logs in batches (daemon.logreplies):
few worker-thread hops for many questions, a doc loaded meanwhile answering itself, a
flood of questions held back, nothing waiting for a batch once answering stopped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import trio
import trio.testing

from p2psync.daemon import logreplies
from p2psync.daemon.logreplies import LogAnswers
from p2psync.protocol.messages import SyncStep1
from p2psync.storage import DocLog
from p2psync.storage.layout import log_path


class FakeSync:
    """What answering needs of the sync engine: which docs are loaded, and the two
    ways of answering, noted."""

    def __init__(self, loaded: set[str], docs: int = 0) -> None:
        self.loaded = loaded
        self.docs = docs
        self.replica = self
        self.answered: list[tuple[str, str, Any]] = []
        self.asked: list[SyncStep1] = []

    def __len__(self) -> int:
        return self.docs

    def is_loaded(self, guid: str) -> bool:
        return guid in self.loaded

    def receive(self, peer: str, message: SyncStep1) -> list[Any]:
        self.answered.append((peer, message.guid, "loaded"))
        self.asked.append(message)
        return []

    def answer_from_log(self, peer: str, message: SyncStep1, stored: list[bytes]) -> list[Any]:
        self.answered.append((peer, message.guid, stored))
        return []


class FakeShare:
    def __init__(self, root: Path, loaded: set[str], docs: int = 0) -> None:
        self.root = root
        self.name = "s"
        self.sync = FakeSync(loaded, docs)
        self.effects = self
        self.full: set[str] = set()
        """Peers whose send queue has no room."""
        self.emptied = trio.Event()

    async def execute(self, effects: list[Any]) -> None:
        await trio.lowlevel.checkpoint()

    async def room(self, peer: str) -> None:
        while peer in self.full:
            await self.emptied.wait()


def answers_of(share: FakeShare) -> LogAnswers:
    return LogAnswers(cast(Any, share))


def question(guid: str) -> SyncStep1:
    return SyncStep1(b"share", guid, b"\x00")


def stored(root: Path, guid: str, updates: list[bytes]) -> None:
    with DocLog.open(log_path(root, guid)).log as doclog:
        doclog.append(updates)


def test_many_questions_are_answered_with_few_reads_each_from_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guids = [f"doc{i:03}" for i in range(600)]
    log_path(tmp_path, guids[0]).parent.mkdir(parents=True)
    for guid in guids[:-1]:
        stored(tmp_path, guid, [guid.encode()])  # the last has no log: an empty answer
    share = FakeShare(tmp_path, loaded={"doc007"})
    hops: list[int] = []
    read_logs = logreplies.read_logs

    def counted(root: Path, asked: Sequence[str]) -> list[Any]:
        hops.append(len(asked))
        return read_logs(root, asked)

    monkeypatch.setattr(logreplies, "read_logs", counted)

    async def main() -> None:
        answers = answers_of(share)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answers.run)
            for guid in guids:
                await answers.ask("peer", question(guid))
            with trio.fail_after(10):
                while len(share.sync.answered) < len(guids):
                    await trio.sleep(0.001)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert sum(hops) == len(guids)
    assert len(hops) <= 4  # 600 questions asked at once: batches of up to 256
    answered = {guid: how for _, guid, how in share.sync.answered}
    assert answered["doc007"] == "loaded"  # a loaded doc answers from memory
    assert answered["doc001"] == [b"doc001"]
    assert answered[guids[-1]] == []


def test_a_flood_of_questions_waits_and_none_waits_once_answering_stopped(
    tmp_path: Path,
) -> None:
    share = FakeShare(tmp_path, loaded=set())

    async def main() -> None:
        answers = answers_of(share)
        for i in range(logreplies.MAX_WAITING):  # nothing answers yet: they all wait
            await answers.ask("peer", question(f"d{i}"))
        with trio.move_on_after(1) as held:
            await answers.ask("peer", question("one too many"))
        assert held.cancelled_caught  # held back, as a link reading no further
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answers.run)
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        with trio.fail_after(1):  # answering stopped: dropped, not waiting forever
            for i in range(logreplies.MAX_WAITING + 1):
                await answers.ask("peer", question(f"late{i}"))

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert not [guid for _, guid, _ in share.sync.answered if guid.startswith("late")]


def test_answers_wait_for_room_in_the_peers_queue_and_its_questions_do_not(
    tmp_path: Path,
) -> None:
    """A peer whose link is slower than its answers: nothing more is answered until
    its queue has room, and its questions, one per doc of the share, still go in
    (the link's reader never waits on room: two devices answering each other's
    first syncs would wait for each other)."""
    docs = 2 * logreplies.MAX_WAITING
    share = FakeShare(tmp_path, loaded=set(), docs=docs)
    share.full.add("slow")

    async def main() -> None:
        answers = answers_of(share)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answers.run)
            with trio.fail_after(1):
                for i in range(docs):
                    await answers.ask("slow", question(f"d{i}"))
            await trio.testing.wait_all_tasks_blocked()
            assert share.sync.answered == []
            share.full.clear()
            share.emptied.set()
            with trio.fail_after(10):
                while len(share.sync.answered) < docs:
                    await trio.sleep(0.001)
            nursery.cancel_scope.cancel()

    # The real clock: answers read logs in worker threads, and a mock clock that jumps
    # whenever every task waits would jump past the deadline while a thread reads.
    trio.run(main)
    assert [guid for _, guid, _ in share.sync.answered] == [f"d{i}" for i in range(docs)]


def test_a_newer_question_about_a_doc_replaces_one_still_waiting(tmp_path: Path) -> None:
    share = FakeShare(tmp_path, loaded={"d"})
    newer = SyncStep1(b"share", "d", b"\x01\x05\x01")

    async def main() -> None:
        answers = answers_of(share)
        await answers.ask("peer", question("d"))
        await answers.ask("peer", newer)
        await answers.ask("other", question("d"))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answers.run)
            with trio.fail_after(10):
                while len(share.sync.answered) < 2:
                    await trio.sleep(0.001)
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()

    trio.run(main)  # the real clock, for the worker thread (above)
    answered = [(peer, guid) for peer, guid, _ in share.sync.answered]
    assert answered == [("peer", "d"), ("other", "d")]
    assert share.sync.asked[0] == newer
