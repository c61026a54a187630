"""A doc's state goes to a peer only once it is durable here.

A local change is in the doc in memory before its log's append is done. A peer's
SyncStep1 answered in that window would carry a change that a kill here takes
back: the peer then holds what this device lost, and gives it back as a change
of its own after the restart, beside the save the restarted mirror takes in again.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from pathlib import Path

import pytest
import trio
import trio.testing

from p2psync.config import Member, ShareConfig
from p2psync.daemon.events import EventBus
from p2psync.daemon.shares import ShareService
from p2psync.ids import DeviceId, ShareId
from p2psync.protocol.messages import DocError, SyncMessage, SyncStep1, SyncStep2
from p2psync.storage import DocLog
from tests.support.updates import text_updates

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
