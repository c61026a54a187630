"""A peer's message whose link is cancelled while it is being handled (the link was
replaced by the other one of a simultaneous dial, or dropped): a real ShareService
with real logs still stores what the engine integrated, and the doc's log stays
writable."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from p2psync.config import Member, ShareConfig
from p2psync.daemon.events import EventBus
from p2psync.daemon.logreplies import read_stored_updates
from p2psync.daemon.shares import ShareService
from p2psync.ids import DeviceId, ShareId
from p2psync.protocol.messages import Update
from p2psync.replica.doc import DocReplica
from tests.support.updates import text_updates

PEER = DeviceId(bytes(range(32)))


def service_for(tmp_path: Path) -> ShareService:
    config = ShareConfig(ShareId.new(), tmp_path / "share", (Member(PEER),))
    return ShareService(
        config, EventBus(), send=lambda peer, message: None,
        disconnect=lambda peer, reason, *, penalty=False: None, mirror=False,
    )  # fmt: skip


async def receive_on_a_cancelled_link(
    service: ShareService, update: bytes, *, at_once: bool
) -> None:
    """``service`` receives an Update on a link cancelled before it is handled
    (``at_once``) or while it waits for the doc's log to open."""
    message = Update(service.config.id.raw, "notes", [update])
    with trio.CancelScope() as link:
        if at_once:
            link.cancel()
            await service.receive(PEER, message)
        else:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(service.receive, PEER, message)
                await trio.testing.wait_all_tasks_blocked()  # it waits on the log
                link.cancel()


def run_case(tmp_path: Path, *, at_once: bool) -> None:
    service = service_for(tmp_path)
    updates, text = text_updates(2, text="kept ")

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                service.peer_up(PEER)
                await receive_on_a_cancelled_link(service, updates[0], at_once=at_once)
                await service.receive(PEER, Update(service.config.id.raw, "notes", [updates[1]]))
                await service.durable("notes")
                nursery.cancel_scope.cancel()

    trio.run(main)
    stored = read_stored_updates(service.root, "notes")
    assert stored == updates
    assert DocReplica("notes", stored).text() == text


def test_a_message_cancelled_before_it_is_handled_is_stored(tmp_path: Path) -> None:
    run_case(tmp_path, at_once=True)


def test_a_message_cancelled_while_its_log_opens_is_stored(tmp_path: Path) -> None:
    run_case(tmp_path, at_once=False)
