"""Slow and idle connections: deadlines drop them without affecting anyone else, and
only a bounded number of unauthenticated connections is served at once."""

from __future__ import annotations

import threading
import time

import pytest
import trio

from p2psync.config import parse_address
from p2psync.daemon.acceptor import MAX_PENDING_HANDSHAKES
from p2psync.net.transport import client_context
from p2psync.protocol import connection as proto
from p2psync.protocol.messages import Update
from tests.support.daemons import wait_for
from tests.support.hostile import Scene, _hello, frame_of

TRICKLE_S = 2.0  # one byte every this many seconds
MARGIN_S = 15.0  # a loaded 2-core machine may be late


async def trickle(stream: trio.abc.Stream, data: bytes) -> float:
    """Send ``data`` one byte at a time until the daemon closes; return when it did
    (seconds after the start), or raise if all of ``data`` went through."""
    start = trio.current_time()
    try:
        for byte in data:
            await stream.send_all(bytes([byte]))
            with trio.move_on_after(TRICKLE_S):
                if not await stream.receive_some(65536):
                    return trio.current_time() - start
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        return trio.current_time() - start
    raise AssertionError("the daemon read a whole trickled message")


async def slow_tls(address: str) -> float:
    host, port = parse_address(address)
    stream = await trio.open_tcp_stream(host, port)
    async with stream:
        return await trickle(stream, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 20)


async def slow_hello(address: str) -> float:
    host, port = parse_address(address)
    tls = trio.SSLStream(await trio.open_tcp_stream(host, port), client_context())
    async with tls:
        await tls.do_handshake()
        conn = proto.Connection(proto.Role.CLIENT, _hello())
        return await trickle(tls, conn.start())


async def slow_frame(scene: Scene) -> float:
    channel = await scene.mallory.connect(scene.alice.address, scene.alice_id)
    async with channel.stream:
        frame = frame_of(Update(scene.share.raw, "notes.md", [b"\x00\x00"] * 200))
        await channel.stream.send_all(frame[:10])
        return await trickle(channel.stream, frame[10:])


@pytest.mark.slow
def test_slow_peers_time_out_while_the_others_sync(scene: Scene) -> None:
    closed_after: dict[str, float] = {}

    async def main() -> None:
        async def run(name: str, job: object) -> None:
            assert callable(job)
            closed_after[name] = await job()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "tls", lambda: slow_tls(scene.alice.address))
            nursery.start_soon(run, "hello", lambda: slow_hello(scene.alice.address))
            nursery.start_soon(run, "frame", lambda: slow_frame(scene))

    slow = threading.Thread(target=trio.run, args=(main,))
    slow.start()
    scene.bob.apply_text("notes.md", "while they trickle. ", client_id=2)
    wait_for(
        lambda: scene.alice.text("notes.md") == "honest text. while they trickle. ",
        "bob's edit at alice during the trickles",
    )
    assert slow.is_alive()  # the edit went through while all three were stalled
    slow.join(timeout=proto.FRAME_BASE_S + 3 * MARGIN_S)
    assert not slow.is_alive()
    assert closed_after["tls"] < proto.HANDSHAKE_TIMEOUT_S + MARGIN_S
    assert closed_after["hello"] < proto.HANDSHAKE_TIMEOUT_S + MARGIN_S
    # An authenticated peer is no longer under the handshake deadline: the frame one is.
    assert proto.FRAME_BASE_S - 1 < closed_after["frame"] < proto.FRAME_BASE_S + MARGIN_S
    assert scene.alice_alive()


def test_unauthenticated_connections_are_capped(scene: Scene) -> None:
    host, port = parse_address(scene.alice.address)
    extra = 8

    async def closed_soon(stream: trio.SocketStream, closed: list[bool]) -> None:
        with trio.move_on_after(5.0):  # the cap closes at once; a handshake waits 20 s
            try:
                if not await stream.receive_some(100):
                    closed.append(True)
            except trio.BrokenResourceError:
                closed.append(True)

    async def main() -> tuple[int, bool]:
        streams = [
            await trio.open_tcp_stream(host, port) for _ in range(MAX_PENDING_HANDSHAKES + extra)
        ]
        closed: list[bool] = []
        async with trio.open_nursery() as nursery:
            for stream in streams:
                nursery.start_soon(closed_soon, stream, closed)
        for stream in streams:
            await stream.aclose()
        # Once the slots are free again, a member gets in.
        with trio.fail_after(20):
            while True:
                try:
                    channel = await scene.mallory.connect(scene.alice.address, scene.alice_id)
                except Exception:  # slots still held a moment
                    await trio.sleep(0.2)
                    continue
                await channel.stream.aclose()
                return len(closed), True

    started = time.monotonic()
    refused, member_got_in = trio.run(main)
    assert refused == extra  # exactly those over the cap, whichever they were
    assert member_got_in
    assert time.monotonic() - started < proto.HANDSHAKE_TIMEOUT_S  # not by the timeout
    assert scene.alice_alive()
