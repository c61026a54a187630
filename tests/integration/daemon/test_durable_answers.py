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
from p2psync.daemon import sharereceive
from p2psync.daemon.events import EventBus
from p2psync.daemon.shareeffects import DisconnectFn, SendFn
from p2psync.daemon.shares import ShareService
from p2psync.ids import DeviceId, ShareId
from p2psync.protocol.messages import DocError, SyncMessage, SyncStep1, SyncStep2
from p2psync.storage import DocLog
from tests.support.updates import text_updates

DOC = "notes"
PEER = DeviceId(bytes(range(32)))


class StalledAppend:
    """Two local updates of DOC; the append of the second waits in its thread until
    ``go_on`` is set (a slow disk), and says so with ``appending``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        (self.first, self.second), _ = text_updates(2)
        self.appending, self.go_on = threading.Event(), threading.Event()
        self.stored: list[int] = []
        real_append = DocLog.append

        def append(log: DocLog, updates: Sequence[bytes]) -> None:
            if self.second in updates:
                self.appending.set()
                self.go_on.wait(10)
            real_append(log, updates)
            self.stored.append(len(updates))

        monkeypatch.setattr(DocLog, "append", append)

    async def start_second(self, service: ShareService, nursery: trio.Nursery) -> None:
        """Run ``service`` in ``nursery`` with PEER up, store the first update, then
        start the second and wait until it stalls."""
        await nursery.start(service.run)
        service.peer_up(PEER)
        await service.local_update(DOC, self.first)
        self.stored.clear()
        nursery.start_soon(service.local_update, DOC, self.second)
        await trio.to_thread.run_sync(self.appending.wait)


def a_service(tmp_path: Path, send: SendFn, disconnect: DisconnectFn) -> ShareService:
    """A share with PEER as its member, no mirror."""
    config = ShareConfig(ShareId.new(), tmp_path / "share", (Member(PEER),))
    return ShareService(config, EventBus(), send=send, disconnect=disconnect, mirror=False)


def step1(service: ShareService) -> SyncStep1:
    """PEER asks for all of DOC."""
    return SyncStep1(service.config.id.raw, DOC, b"\x00")


def test_a_peer_gets_a_local_change_only_once_it_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[int] = []  # how many appends were stored when the answer went

    def send(peer: Hashable, message: SyncMessage | DocError) -> None:
        if isinstance(message, SyncStep2) and message.guid == DOC:
            answered.append(len(stall.stored))

    service = a_service(tmp_path, send, lambda peer, reason, *, penalty=False: None)
    stall = StalledAppend(monkeypatch)

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await stall.start_second(service, nursery)
                nursery.start_soon(service.receive, PEER, step1(service))
                await trio.testing.wait_all_tasks_blocked()
                assert answered == []  # not while the second update is not stored
                stall.go_on.set()
                while not answered:
                    await trio.sleep(0.01)
                await service.aclose()

    trio.run(main)
    assert answered == [1]


def test_an_answer_that_cannot_be_made_durable_in_time_restarts_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A disk slower than the grace of a message's effects: the answer is not sent,
    # and the peer would wait for it on this link forever. The link starts over
    # instead, and the peer asks again on the next one.
    monkeypatch.setattr(sharereceive, "EFFECTS_GRACE_S", 0.3)
    answered: list[str] = []
    dropped: list[str] = []

    def send(peer: Hashable, message: SyncMessage | DocError) -> None:
        if isinstance(message, SyncStep2):
            answered.append(message.guid)

    def disconnect(peer: Hashable, reason: str, *, penalty: bool = False) -> None:
        dropped.append(reason)

    service = a_service(tmp_path, send, disconnect)
    stall = StalledAppend(monkeypatch)

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await stall.start_second(service, nursery)
                await service.receive(PEER, step1(service))
                stall.go_on.set()
                await service.aclose()

    trio.run(main)
    assert answered == []
    assert len(dropped) == 1
    assert f"doc {DOC} took over 0 s" in dropped[0]
