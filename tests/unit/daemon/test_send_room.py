"""Waiting for room in a peer's send queue (``PeerManager.room``): what answering a
first sync from logs waits for, so a slow link is not filled until it is dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import trio
import trio.testing

from p2psync.config import Config, Member, ShareConfig
from p2psync.daemon.events import EventBus
from p2psync.daemon.links import SEND_QUEUE_MESSAGES
from p2psync.daemon.peerinfo import Link, Queued
from p2psync.daemon.peers import PeerManager
from p2psync.ids import DeviceId, ShareId
from p2psync.net.identity import load_or_create_identity
from p2psync.protocol.messages import SyncStep2

PEER = DeviceId(bytes(range(32)))


def manager(tmp_path: Path) -> PeerManager:
    share = ShareConfig(ShareId(bytes(16)), tmp_path, (Member(PEER),))
    identity = load_or_create_identity(tmp_path / "identity")
    return PeerManager(identity, lambda: Config("here", shares=(share,)), dict, EventBus())


def test_room_waits_while_the_queue_is_over_half_full(tmp_path: Path) -> None:
    peers = manager(tmp_path)
    answer = SyncStep2(bytes(16), "f:doc", b"\x00\x00")

    async def main() -> None:
        send, receive = trio.open_memory_channel[Queued](SEND_QUEUE_MESSAGES)
        link = Link(cast(Any, None), send, receive)
        peers.links[PEER] = link
        for _ in range(SEND_QUEUE_MESSAGES // 2 + 1):
            peers.send(PEER, answer)
        assert not link.cancel.cancel_called  # queued, not dropped
        waited = trio.Event()

        async def wait_for_room() -> None:
            await peers.room(PEER)
            waited.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_for_room)
            await trio.testing.wait_all_tasks_blocked()
            assert not waited.is_set()  # over half full
            receive.receive_nowait()  # the sender writes one: half full now
            link.wrote()
            await trio.testing.wait_all_tasks_blocked()
            assert waited.is_set()
            for _ in range(2):
                peers.send(PEER, answer)
            nursery.start_soon(wait_for_room)
            waited = trio.Event()
            await trio.testing.wait_all_tasks_blocked()
            assert not waited.is_set()
            del peers.links[PEER]  # the link ends: nothing to wait for
            link.wrote()
            await trio.testing.wait_all_tasks_blocked()
            assert waited.is_set()

    trio.run(main)
