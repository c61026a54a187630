"""A doc's state goes to a peer only once it is durable here.

A local change is in the doc in memory before its log's append is done. A peer's
SyncStep1 answered in that window would carry a change that a kill here takes
back: the peer then holds what this device lost, and gives it back as a change
of its own after the restart, beside the save the restarted mirror takes in again.
An answer that cannot be made durable within the grace of a message's effects is
not sent, so the link starts over: the peer asks again on the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from pathlib import Path

import pytest
import trio
import trio.testing

from p2psync.config import Member, ShareConfig
from p2psync.daemon import shares
from p2psync.daemon.events import EventBus
from p2psync.daemon.shares import ShareService
from p2psync.ids import DeviceId, ShareId
from p2psync.protocol.messages import DocError, SyncMessage, SyncStep1, SyncStep2
from p2psync.storage import DocLog
from tests.conftest import text_updates

DOC = "notes"
PEER = DeviceId(bytes(range(32)))


def test_a_peer_gets_a_local_change_only_once_it_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    happened: list[str] = []

    def send(peer: Hashable, message: SyncMessage | DocError) -> None:
        if isinstance(message, SyncStep2) and message.guid == DOC:
            happened.append("answered")

    config = ShareConfig(ShareId.new(), tmp_path / "share", (Member(PEER),))
    service = ShareService(
        config, EventBus(), send=send,
        disconnect=lambda peer, reason, *, penalty=False: None, mirror=False,
    )  # fmt: skip
    (first, second), _ = text_updates(2)
    appending = threading.Event()
    go_on = threading.Event()
    real_append = DocLog.append

    def append(log: DocLog, updates: Sequence[bytes]) -> None:
        if second in updates:  # the append under test waits for the test's word
            appending.set()
            go_on.wait(10)
        real_append(log, updates)
        happened.append(f"stored {len(updates)}")

    monkeypatch.setattr(DocLog, "append", append)

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                service.peer_up(PEER)
                await service.local_update(DOC, first)
                happened.clear()
                nursery.start_soon(service.local_update, DOC, second)
                await trio.to_thread.run_sync(appending.wait)
                nursery.start_soon(service.receive, PEER, SyncStep1(config.id.raw, DOC, b"\x00"))
                await trio.testing.wait_all_tasks_blocked()
                go_on.set()
                while "answered" not in happened:
                    await trio.sleep(0.01)
                await service.aclose()

    trio.run(main)
    assert happened == ["stored 1", "answered"]


def test_an_answer_that_cannot_be_made_durable_in_time_restarts_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A disk slower than the grace of a message's effects: the answer is not sent,
    # and the peer would wait for it on this link forever. The link starts over
    # instead, and the peer asks again on the next one.
    monkeypatch.setattr(shares, "EFFECTS_GRACE_S", 0.3)
    dropped: list[str] = []
    answered: list[str] = []

    def send(peer: Hashable, message: SyncMessage | DocError) -> None:
        if isinstance(message, SyncStep2):
            answered.append(message.guid)

    def disconnect(peer: Hashable, reason: str, *, penalty: bool = False) -> None:
        dropped.append(reason)

    config = ShareConfig(ShareId.new(), tmp_path / "share", (Member(PEER),))
    service = ShareService(config, EventBus(), send=send, disconnect=disconnect, mirror=False)
    (first, second), _ = text_updates(2)
    appending, go_on = threading.Event(), threading.Event()
    real_append = DocLog.append

    def append(log: DocLog, updates: Sequence[bytes]) -> None:
        if second in updates:
            appending.set()
            go_on.wait(10)  # a stalled disk, until the test has seen the link dropped
        real_append(log, updates)

    monkeypatch.setattr(DocLog, "append", append)

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                service.peer_up(PEER)
                await service.local_update(DOC, first)
                nursery.start_soon(service.local_update, DOC, second)
                await trio.to_thread.run_sync(appending.wait)
                await service.receive(PEER, SyncStep1(config.id.raw, DOC, b"\x00"))
                go_on.set()
                await service.aclose()

    trio.run(main)
    assert answered == []
    assert len(dropped) == 1
    assert f"doc {DOC} took over 0 s" in dropped[0]
