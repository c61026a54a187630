"""The control API server and the blocking client, over a real Unix socket."""

from __future__ import annotations

import contextlib
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
import trio

from p2psync.control import wire
from p2psync.control.client import ControlClient
from p2psync.control.wire import MAX_MESSAGE_BYTES
from p2psync.daemon.control import ControlServer
from p2psync.daemon.events import EventBus
from p2psync.errors import ControlError, DaemonNotRunningError, UsageError

DEADLINE_S = 30


async def echo(params: dict[str, Any]) -> Any:
    return {"echo": params}


async def refuse(params: dict[str, Any]) -> Any:
    raise UsageError("that cannot be done")


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "control.sock"


async def test_requests_errors_and_socket_mode(socket_path: Path) -> None:
    server = ControlServer(socket_path, {"echo": echo, "refuse": refuse}, EventBus())

    def client_session() -> tuple[Any, str, str]:
        with ControlClient(socket_path) as client:
            result = client.call("echo", a=1)
            with pytest.raises(ControlError) as refused:
                client.call("refuse")
            with pytest.raises(ControlError) as unknown:
                client.call("nope")
            return result, str(refused.value), unknown.value.code

    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
            result, refused, unknown_code = await trio.to_thread.run_sync(client_session)
            nursery.cancel_scope.cancel()
    assert result == {"echo": {"a": 1}}
    assert refused == "that cannot be done"
    assert unknown_code == "unknown-method"
    assert not socket_path.exists()


async def test_garbage_and_oversized_lines_get_errors_not_crashes(socket_path: Path) -> None:
    server = ControlServer(socket_path, {"echo": echo}, EventBus())

    def abuse() -> list[bytes]:
        replies = []
        for payload in (b"not json\n", b'{"v": 99, "id": 1}\n', b"[1,2]\n"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(socket_path))
                sock.sendall(payload)
                replies.append(sock.recv(4096))
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(socket_path))
            with contextlib.suppress(BrokenPipeError):
                sock.sendall(b"x" * (MAX_MESSAGE_BYTES + 10))
            replies.append(sock.recv(4096))
        with ControlClient(socket_path) as client:  # the server still serves
            replies.append(repr(client.call("echo")).encode())
        return replies

    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            replies = await trio.to_thread.run_sync(abuse)
            nursery.cancel_scope.cancel()
    assert b"not JSON" in replies[0]
    assert b"version 99" in replies[1]
    assert b"not a JSON object" in replies[2]
    assert b"too large" in replies[3]
    assert replies[4] == b"{'echo': {}}"


async def test_event_stream(socket_path: Path) -> None:
    bus = EventBus()
    server = ControlServer(socket_path, {}, bus)
    subscribed = trio.Event()

    def listen(token: trio.lowlevel.TrioToken) -> list[str]:
        seen = []
        with ControlClient(socket_path) as client:
            stream = client.events()
            for event in stream:
                if event["type"] == "ready":
                    trio.from_thread.run_sync(subscribed.set, trio_token=token)
                    continue
                seen.append(event["type"])
                if len(seen) == 2:
                    return seen
        return seen

    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            token = trio.lowlevel.current_trio_token()
            result: list[list[str]] = []

            async def run_listener() -> None:
                result.append(await trio.to_thread.run_sync(listen, token))

            nursery.start_soon(run_listener)
            while not subscribed.is_set():  # publish until the subscription is live
                bus.publish("ready")
                await trio.sleep(0.01)
            bus.publish("peer-connected", peer="A")
            bus.publish("doc-synced", doc="d")
            while not result:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert result == [["peer-connected", "doc-synced"]]


async def test_a_subscriber_that_goes_away_is_dropped_quietly(
    socket_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tray quitting closes its event stream; the next events find the socket
    broken: the subscription ends with no error logged (it logged a traceback)."""
    bus = EventBus()
    server = ControlServer(socket_path, {}, bus)
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            stream = await trio.open_unix_socket(str(socket_path))
            await stream.send_all(wire.encode({"id": 1, "method": "subscribe"}))
            assert b"subscribed" in await stream.receive_some()
            await stream.aclose()
            while bus._subscribers:  # published to until the server sees it gone
                bus.publish("peer-connected", peer="A")
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


async def test_a_client_of_a_daemon_still_starting_is_answered_once_it_serves(
    socket_path: Path,
) -> None:
    """A daemon binds its socket before it loads its shares and serves after (many
    seconds at 100,000 files): a client that comes in between waits for its answer
    instead of being told that no daemon is running."""
    server = ControlServer(socket_path, {"echo": echo}, EventBus())
    connected = trio.Event()

    def client_session() -> Any:
        with ControlClient(socket_path) as client:
            trio.from_thread.run_sync(connected.set)
            return client.call("echo", a=1)

    with trio.fail_after(DEADLINE_S):
        await server.bind()
        async with trio.open_nursery() as nursery:
            replies: list[Any] = []
            answered = trio.Event()

            async def ask() -> None:
                replies.append(await trio.to_thread.run_sync(client_session))
                answered.set()

            nursery.start_soon(ask)
            await connected.wait()  # connected while nothing accepts yet
            assert replies == []
            await nursery.start(server.run)
            await answered.wait()
            nursery.cancel_scope.cancel()
    assert replies == [{"echo": {"a": 1}}]


def test_client_without_daemon(socket_path: Path) -> None:
    with pytest.raises(DaemonNotRunningError, match="no daemon is running"):
        ControlClient(socket_path)


async def test_second_server_on_a_live_socket_refuses(socket_path: Path) -> None:
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(ControlServer(socket_path, {}, EventBus()).run)
            with pytest.raises(ControlError, match="already running"):
                await ControlServer(socket_path, {}, EventBus()).run()
            nursery.cancel_scope.cancel()
