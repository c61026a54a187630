"""A link's sender writes what is queued together (daemon.sendbatch): several queued
messages in one write, arriving whole and in order; a lone message at once; a message
over the frame limit refused alone; the queue's bytes, the byte counters and the
progress of answers as per message; a farewell still the last thing written.

Two real channels, the product's TLS handshake between them, over an in-memory
stream whose writes are counted (one ``send_all`` of the TLS stream is one write of
its transport). The clock is trio's mock clock, which moves only when a test moves
it: nothing here can be waiting for time to pass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import pytest
import trio
import trio.testing

from p2psync.config import Config
from p2psync.daemon.events import EventBus
from p2psync.daemon.links import LinkRunner
from p2psync.daemon.peerinfo import Link, Queued, payload_bytes
from p2psync.daemon.sendbatch import BATCH_BYTES, take_ready
from p2psync.ids import DeviceId, ShareId
from p2psync.net.identity import load_or_create_identity
from p2psync.net.transport import PeerChannel, handshake
from p2psync.protocol import MAX_FRAME_BYTES, Closed, MessageReceived, Role, wire
from p2psync.protocol.frames import encode_frame
from p2psync.protocol.messages import SyncMessage, SyncStep1, SyncStep2, Update

SHARE = b"s" * 16
CONFIG = Config("test")
"""No send limit."""


@dataclass
class Wire:
    """Both ends of a link and the writes our end made to its transport."""

    ours: PeerChannel
    theirs: PeerChannel
    writes: list[int]
    """A 1 for each write of ``ours`` to its transport since the handshake."""
    received: list[SyncMessage | Closed] = field(default_factory=list)
    """What the peer read, in order: sync messages, then a Goodbye or the end."""


class FakeShare:
    """What the sender asks of a share: its name (in errors), and its engine told each
    answer written (``sync.wrote``), noted in ``wrote_guids``."""

    def __init__(self) -> None:
        self.name = "s"
        self.sync = self
        self.wrote_guids: list[str] = []

    def wrote(self, device: DeviceId, message: SyncStep2) -> None:
        self.wrote_guids.append(message.guid)


async def connect(tmp_path: Path) -> Wire:
    """Two devices' channels, authenticated by the product's handshake."""
    ours_id = load_or_create_identity(tmp_path / "ours")
    theirs_id = load_or_create_identity(tmp_path / "theirs")
    left, right = trio.testing.memory_stream_pair()
    writes: list[int] = []
    pump = left.send_stream.send_all_hook

    async def counted() -> None:
        writes.append(1)
        assert pump is not None
        await pump()

    left.send_stream.send_all_hook = counted
    channels: dict[str, PeerChannel] = {}

    async def serve() -> None:
        channels["theirs"] = await handshake(
            cast(Any, right), role=Role.SERVER, identity=theirs_id, device_name="theirs"
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        channels["ours"] = await handshake(
            cast(Any, left), role=Role.CLIENT, identity=ours_id, device_name="ours",
            expected=theirs_id.device_id,
        )  # fmt: skip
    writes.clear()
    return Wire(channels["ours"], channels["theirs"], writes)


async def read_all(wire: Wire) -> None:
    """The peer's reader: every sync message and the end, into ``wire.received``."""
    while True:
        try:
            event = await wire.theirs.next_event()
        except EOFError:
            return
        if isinstance(event, MessageReceived):
            wire.received.append(event.message)
        elif isinstance(event, Closed):
            wire.received.append(event)
            return


def queue(link: Link, *messages: Queued) -> None:
    """Queue as ``PeerManager.send`` does: the message, and its bytes counted."""
    for message in messages:
        link.send.send_nowait(message)
        link.queued_bytes += payload_bytes(message)


def answer(i: int, size: int = 100) -> SyncStep2:
    return SyncStep2(SHARE, f"doc{i}", bytes(size))


@dataclass
class Running:
    """A link on our end of ``wire``, the share it is about, the daemon's events."""

    wire: Wire
    link: Link
    share: FakeShare
    events: EventBus


@pytest.fixture
async def running(tmp_path: Path, nursery: trio.Nursery) -> Running:
    """A link on our end (its sender not started yet), the peer reading."""
    wire = await connect(tmp_path)
    send, receive = trio.open_memory_channel[Queued](1000)
    nursery.start_soon(read_all, wire)
    return Running(wire, Link(wire.ours, send, receive), FakeShare(), EventBus())


async def start(run: Running, nursery: trio.Nursery, config: Config = CONFIG) -> None:
    """Start a ``LinkRunner``'s sender on ``run``'s link (with no host: the sender does
    not use it) and let every task run until all wait."""
    shares = {ShareId(SHARE): cast(Any, run.share)}
    runner = LinkRunner(
        run.wire.theirs.device_id, lambda: shares, run.events, cast(Any, None), lambda: config
    )

    async def sender() -> None:
        with run.link.cancel:
            await runner._sender(run.link)

    nursery.start_soon(sender)
    await trio.testing.wait_all_tasks_blocked()


def frame_bytes(*messages: Queued) -> int:
    """The bytes of the frames of ``messages``."""
    return sum(len(encode_frame(wire.encode(message))) for message in messages)


async def test_queued_messages_go_out_in_one_write_whole_and_in_order(
    running: Running, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    messages = [answer(i, size=10 * i) for i in range(50)]
    queue(running.link, *messages)
    before = trio.current_time()
    await start(running, nursery)
    assert running.wire.received == messages
    assert len(running.wire.writes) == 1
    assert running.link.queued_bytes == 0
    assert running.share.wrote_guids == [m.guid for m in messages]
    assert trio.current_time() == before


async def test_a_lone_message_goes_out_at_once(
    running: Running, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await start(running, nursery)
    before = trio.current_time()
    for i in range(3):  # each alone: the sender waits for it, finds nothing else
        queue(running.link, answer(i))
        await trio.testing.wait_all_tasks_blocked()
        assert running.wire.received == [answer(j) for j in range(i + 1)]
        assert len(running.wire.writes) == i + 1
    assert trio.current_time() == before  # nothing waited for time to pass


async def test_a_message_over_the_frame_limit_is_refused_alone(
    running: Running, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    too_large = SyncStep2(SHARE, "huge", bytes(MAX_FRAME_BYTES))
    queue(running.link, answer(1), too_large, answer(2))
    await start(running, nursery)
    assert running.wire.received == [answer(1), answer(2)]
    assert len(running.wire.writes) == 1
    assert running.share.wrote_guids == ["doc1", "doc2"]
    assert running.link.queued_bytes == 0
    [error] = running.events.recent_errors("s")
    assert (error["code"], error["doc"]) == ("message-too-large", "huge")
    assert not running.link.cancel.cancel_called  # the link stays up


async def test_a_message_that_cannot_be_framed_ends_the_link_after_those_before_it(
    running: Running, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    invalid = SyncStep1(SHARE, "x" * 151, b"\x00")  # a guid longer than a peer accepts
    queue(running.link, answer(1), invalid, answer(2))
    await start(running, nursery)
    assert running.wire.received[0] == answer(1)
    assert answer(2) not in running.wire.received
    assert running.link.cancel.cancel_called


async def test_counters_count_every_frame(
    running: Running, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    ours, theirs = running.wire.ours, running.wire.theirs
    out, into = ours.bytes_out, theirs.bytes_in
    batch = [answer(i) for i in range(20)]
    queue(running.link, *batch)
    await start(running, nursery)
    lone = Update(SHARE, "doc", [bytes(30), bytes(40)])
    queue(running.link, lone)
    assert running.link.queued_bytes == 70
    await trio.testing.wait_all_tasks_blocked()
    assert running.wire.received == [*batch, lone]
    assert ours.bytes_out - out == theirs.bytes_in - into == frame_bytes(*batch, lone)
    assert ours.rate_out.rate() > 0
    assert running.link.queued_bytes == 0


async def test_a_farewell_is_written_last(
    running: Running, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await start(running, nursery)
    queue(running.link, answer(1))
    await trio.testing.wait_all_tasks_blocked()
    running.link.say_goodbye("shutting-down", "bye")
    await trio.testing.wait_all_tasks_blocked()
    assert running.wire.received[0] == answer(1)
    assert isinstance(running.wire.received[-1], Closed)
    assert running.wire.received[-1].code == "shutting-down"


async def test_a_batch_holds_the_budget_and_one_frame_at_most(tmp_path: Path) -> None:
    wire = await connect(tmp_path)
    send, receive = trio.open_memory_channel[Queued](1000)
    link = Link(wire.ours, send, receive)
    messages = [answer(i, size=1000) for i in range(200)]
    queue(link, *messages[1:])  # the first is the one the sender waited for
    batches = [take_ready(link, messages[0])]
    while link.queued_bytes:
        first = link.receive.receive_nowait()
        link.queued_bytes -= payload_bytes(first)
        batches.append(take_ready(link, first))
    assert [message for batch in batches for message in batch.framed] == messages
    for batch in batches[:-1]:  # full: the frame that crossed the budget is the last
        assert batch.size - len(batch.frames[-1]) < BATCH_BYTES <= batch.size
        assert batch.size == len(batch.data)
    assert 0 < batches[-1].size < BATCH_BYTES
    assert link.queued_bytes == 0


async def test_the_sender_keeps_to_the_send_limit(
    running: Running, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """``[listen] max_send_kib_s``: after each write the sender waits as long as those
    bytes take at the limit, so the next write comes no sooner (a lone message with no
    limit goes out at once: the test above)."""
    limited = replace(CONFIG, max_send_kib_s=1)  # 1,024 bytes a second
    await start(running, nursery, limited)
    before = trio.current_time()
    queue(running.link, answer(1, size=2000))
    await trio.testing.wait_all_tasks_blocked()
    first = frame_bytes(answer(1, size=2000))
    queue(running.link, answer(2, size=10))
    await trio.testing.wait_all_tasks_blocked()
    assert len(running.wire.writes) == 1  # the second waits for the first's time
    mock_clock.jump(first / 1024 - 0.01)
    await trio.testing.wait_all_tasks_blocked()
    assert len(running.wire.writes) == 1
    mock_clock.jump(0.02)
    await trio.testing.wait_all_tasks_blocked()
    assert running.wire.received == [answer(1, size=2000), answer(2, size=10)]
    assert trio.current_time() - before >= first / 1024
