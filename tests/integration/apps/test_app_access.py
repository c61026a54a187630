"""Who may connect to the apps endpoint, and what closes a connection: tokens, Origin,
file kinds, limits, hostile bytes; and ``p2psync doc url``, against a real daemon.
Whatever one client does, the doc stays intact and the daemon goes on serving."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pycrdt
import pytest
import trio
from trio_websocket import ConnectionClosed

from p2psync.apps.tokens import doc_token
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.daemon.apps import NEW_APP_DOC_WAIT_S
from p2psync.mirror.manifest import MANIFEST_GUID, read_entries
from p2psync.storage import read_state
from p2psync.storage.compaction import replay
from p2psync.storage.layout import log_path
from tests.integration.apps.yclient import connect, until, until_blocking
from tests.support.chunkeddaemons import CHUNK_MAX_BYTES, CHUNKED_FILE_BYTES, configure
from tests.support.daemons import Device, cli, setup, wait_for

ORIGIN = "http://localhost:5173"


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Device]:
    made = Device(tmp_path_factory.mktemp("apps"), "dora")
    setup(made.home, "share", "add", str(made.folder), "--create")
    configure(made, {"chunked_file_bytes": CHUNKED_FILE_BYTES, "chunk_max_bytes": CHUNK_MAX_BYTES})
    with (made.home / "config.toml").open("a") as config:
        config.write(f'\n[apps]\nport = 0\nallowed_origins = ["{ORIGIN}"]\n')
    (made.folder / "notes.txt").write_text("intact\n")
    (made.folder / "other.txt").write_text("other\n")
    (made.folder / "image.bin").write_bytes(b"\x89PNG\0\0binary")
    (made.folder / "big.txt").write_text("a line of a large text file\n" * 2_000)
    made.start()
    for name in ("notes.txt", "other.txt"):
        wait_for(lambda name=name: url_cli(made, name).returncode == 0, f"{name} synced")  # type: ignore[misc]
    for name in ("image.bin", "big.txt"):
        wait_for(lambda name=name: has_entry(made, name), f"{name} in the manifest")  # type: ignore[misc]
    yield made
    made.stop(signal.SIGKILL)


def url_cli(device: Device, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(device.home, "doc", "url", str(device.folder / name), *extra, check=False)


def url_of(device: Device, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(url_cli(device, name, "--json").stdout)
    return found


def has_entry(device: Device, name: str) -> bool:
    try:
        manifest_guid(device, name)
    except StopIteration:
        return False
    return True


def manifest_guid(device: Device, name: str) -> str:
    entries, _ = read_entries(replay([read_state(log_path(device.folder, MANIFEST_GUID))]))
    return next(e.guid for e in entries.values() if e.path == name and not e.deleted)


async def closed_with(url: str, send: bytes | str | None = None, **kwargs: Any) -> tuple[int, str]:
    """Connect, optionally send one message, and return the close code and reason."""
    async with connect(url, **kwargs) as app:
        if send is not None:
            with contextlib.suppress(ConnectionClosed):  # closed while it was sending
                await app.ws.send_message(send)
        await until(lambda: app.closed is not None, "the connection closed")
        assert app.closed is not None
        reason = app.closed.reason
        assert reason is not None
        return reason.code, reason.reason or ""


async def assert_still_serving(device: Device) -> None:
    """A fresh client gets the doc as it was and can edit it."""
    url = (await trio.to_thread.run_sync(url_of, device, "notes.txt"))["url"]
    async with connect(url, client_id=99) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        assert str(app.text).endswith("intact\n")
        assert app.closed is None


async def handshake_status(url: str, origin: str) -> bytes:
    """The status line the server answers a WebSocket handshake from ``origin`` with
    (by hand: trio-websocket's client leaks its socket on a refused handshake)."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    async with stream:
        await stream.send_all(
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n".encode()
        )
        answer = b""
        with trio.fail_after(30):
            while b"\r\n" not in answer:
                chunk = await stream.receive_some()
                if not chunk:
                    break
                answer += chunk
    return answer.partition(b"\r\n")[0]


def test_doc_url_prints_one_url_or_the_json_a_websocket_provider_takes(device: Device) -> None:
    human = url_cli(device, "notes.txt")
    assert human.returncode == 0
    assert human.stdout.count("\n") == 1
    found = url_of(device, "notes.txt")
    assert set(found) == {"server", "room", "params", "url"}
    assert set(found["params"]) == {"token"}
    assert found["server"].startswith("ws://127.0.0.1:")
    assert human.stdout.strip() == found["url"]
    assert found["url"] == f"{found['server']}/{found['room']}?token={found['params']['token']}"
    assert url_of(device, "other.txt")["params"]["token"] != found["params"]["token"]


@pytest.mark.parametrize(
    ("name", "words"),
    [("image.bin", "binary file"), ("big.txt", "stored in chunks"),
     ("missing.txt", "not a file synced")],
)  # fmt: skip
def test_doc_url_refuses_binary_chunked_and_unknown_files(
    device: Device, name: str, words: str
) -> None:
    result = url_cli(device, name)
    assert result.returncode == 2
    assert words in result.stderr
    assert result.stderr.count("\n") == 1


NO_FILE_PLACES = [
    ("folder.ydoc", "is a folder"), ("folder", "is a folder"),
    ("link.txt", "is a symlink"), ("outside.ydoc", "is a symlink"),
    ("notes.txt/board.ydoc", "notes.txt is a file"),
]  # fmt: skip
"""Paths where no file an app edits can be, and what ``doc url`` says of each."""


@pytest.mark.parametrize(("name", "words"), NO_FILE_PLACES)
def test_doc_url_refuses_a_folder_or_a_symlink_at_once_and_makes_nothing(
    device: Device, tmp_path: Path, name: str, words: str
) -> None:
    (device.folder / "folder.ydoc").mkdir(exist_ok=True)
    (device.folder / "folder").mkdir(exist_ok=True)
    (tmp_path / "elsewhere.ydoc").write_bytes(b"\x00\x00")
    for link, target in (("link.txt", device.folder / "notes.txt"),
                         ("outside.ydoc", tmp_path / "elsewhere.ydoc")):  # fmt: skip
        (device.folder / link).unlink(missing_ok=True)
        (device.folder / link).symlink_to(target)
    started = time.monotonic()
    result = url_cli(device, name)
    assert (result.returncode, words in result.stderr) == (2, True), result.stderr
    assert result.stderr.count("\n") == 1
    assert time.monotonic() - started < NEW_APP_DOC_WAIT_S  # told at once, not waited for
    assert (device.folder / "folder.ydoc").is_dir()
    assert (tmp_path / "elsewhere.ydoc").read_bytes() == b"\x00\x00"
    assert (device.folder / "notes.txt").is_file()


def test_doc_url_outside_a_share_is_a_usage_error(device: Device, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.txt").write_text("x")
    result = cli(device.home, "doc", "url", str(tmp_path / "elsewhere.txt"), check=False)
    assert result.returncode == 2
    assert "not inside a shared folder" in result.stderr
    assert result.stderr.count("\n") == 1


async def test_no_token_or_another_docs_token_is_refused(device: Device) -> None:
    notes = await trio.to_thread.run_sync(url_of, device, "notes.txt")
    other = await trio.to_thread.run_sync(url_of, device, "other.txt")
    code, reason = await closed_with(f"{notes['server']}/{notes['room']}")
    assert (code, "no token" in reason) == (4401, True)
    code, reason = await closed_with(
        f"{notes['server']}/{notes['room']}?token={other['params']['token']}"
    )
    assert (code, "does not grant" in reason) == (4401, True)
    code, _ = await closed_with(f"{notes['server']}/nothing")
    assert code == 4400
    await assert_still_serving(device)


async def test_a_url_whose_doc_is_not_utf8_is_refused_with_a_reason(device: Device) -> None:
    notes = await trio.to_thread.run_sync(url_of, device, "notes.txt")
    share = notes["room"].partition("/")[0]
    code, reason = await closed_with(f"{notes['server']}/{share}/%ff?token=x")
    assert (code, "not UTF-8" in reason) == (4400, True)
    assert "Traceback" not in (device.home / "daemon.log").read_text(errors="replace")
    await assert_still_serving(device)


async def test_a_foreign_origin_is_refused_an_allowed_one_and_none_are_not(device: Device) -> None:
    url = (await trio.to_thread.run_sync(url_of, device, "notes.txt"))["url"]
    assert (await handshake_status(url, "http://evil.example")).startswith(b"HTTP/1.1 403")
    async with connect(url, extra_headers=[(b"Origin", ORIGIN.encode())]) as app:
        with trio.fail_after(30):
            await app.synced.wait()


@pytest.mark.parametrize(("name", "words"), [("image.bin", "binary"), ("big.txt", "chunks")])
async def test_a_binary_or_chunked_file_is_no_room(device: Device, name: str, words: str) -> None:
    notes = await trio.to_thread.run_sync(url_of, device, "notes.txt")
    share = notes["room"].partition("/")[0]
    guid = await trio.to_thread.run_sync(manifest_guid, device, name)
    secret = (device.home / "state" / "apps.key").read_bytes()
    assert (device.home / "state" / "apps.key").stat().st_mode & 0o777 == 0o600
    url = f"{notes['server']}/{share}/{quote(guid, safe='')}?token={doc_token(secret, share, guid)}"
    code, reason = await closed_with(url)
    assert (code, words in reason) == (4415, True)
    await assert_still_serving(device)


async def test_an_app_whose_text_file_outgrows_one_doc_is_closed_with_4415(
    device: Device,
) -> None:
    (device.folder / "grows.txt").write_text("a short line\n" * 100)
    await until_blocking(lambda: url_cli(device, "grows.txt").returncode == 0, "grows.txt synced")
    url = (await trio.to_thread.run_sync(url_of, device, "grows.txt"))["url"]
    async with connect(url, client_id=60) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        # Saved past the chunking threshold: the doc becomes the first of many chunks,
        # and an app still bound to it would see and edit that chunk only.
        (device.folder / "grows.txt").write_text("a short line\n" * 2_000)
        await until(lambda: app.closed is not None, "the app closed")
        assert app.closed is not None
        assert app.closed.reason is not None
        reason = app.closed.reason.reason or ""
        assert (app.closed.reason.code, "stored in chunks" in reason) == (4415, True)
    code, reason = await closed_with(url)  # and so is a new connection
    assert (code, "stored in chunks" in reason) == (4415, True)
    await assert_still_serving(device)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\xff\xff\xff\xff", 1007),  # not a y-websocket message
        (b"\x00\x02\x05\x01\x02\x03\x04\x05", 1007),  # an Update whose bytes are not Yjs
        (b"\x00\x00\x03\xff\xff\xff", 1007),  # a SyncStep1 whose state vector is not one
        (b"\x07", 1007),  # an unknown message type
        ("text", 1003),  # a text frame
        # Over the frame limit: the server closes with 1009 while the client is still
        # sending, so the client may only see the connection drop (1006).
        (b"\x01" + b"\x00" * (9 * 1024 * 1024), 1009),
    ],
)
async def test_hostile_messages_close_that_connection_only(
    device: Device, message: bytes | str, code: int
) -> None:
    url = (await trio.to_thread.run_sync(url_of, device, "notes.txt"))["url"]
    async with connect(url, client_id=50) as bystander:
        with trio.fail_after(30):
            await bystander.synced.wait()
        closed = (await closed_with(url, message))[0]
        assert closed == code or (code == 1009 and closed == 1006)
        assert bystander.closed is None
    await assert_still_serving(device)


async def test_a_message_over_the_size_limit_is_said_in_the_log(device: Device) -> None:
    url = (await trio.to_thread.run_sync(url_of, device, "notes.txt"))["url"]
    log, words = device.home / "daemon.log", "it sent a message over 8388608 bytes"
    before = log.read_text(errors="replace").count(words)
    async with connect(url, client_id=51) as app:  # a paste of 9 MiB, one Update
        with trio.fail_after(30):
            await app.synced.wait()
        with contextlib.suppress(ConnectionClosed):
            await app.edit(lambda text: text.insert(0, "x" * (9 * 1024 * 1024)))
        await until(lambda: app.closed is not None, "the connection closed")

    def said() -> bool:
        return (
            log.read_text(errors="replace").count("it sent a message over 8388608 bytes") > before
        )

    await until_blocking(said, "the close in the log")
    await assert_still_serving(device)


async def test_limits_on_message_rate_and_awareness(device: Device) -> None:
    url = (await trio.to_thread.run_sync(url_of, device, "notes.txt"))["url"]
    async with connect(url, client_id=60) as app:
        for _ in range(2000):
            if app.closed is not None:
                break
            with contextlib.suppress(ConnectionClosed):
                await app.ws.send_message(b"\x03")
        await until(lambda: app.closed is not None, "closed for its rate")
        assert app.closed is not None
        assert app.closed.reason is not None
        assert app.closed.reason.code == 4429
    big = awareness_message(61, {"name": "x" * 20_000})
    assert (await closed_with(url, big))[0] == 4429
    await assert_still_serving(device)


def awareness_message(client_id: int, state: dict[str, Any] | None) -> bytes:
    awareness = pycrdt.Awareness(pycrdt.Doc(client_id=client_id))
    awareness.set_local_state(state)
    update = awareness.encode_awareness_update([client_id])
    return pycrdt.create_awareness_message(update)


async def test_awareness_is_relayed_in_the_room_and_removed_when_a_client_leaves(
    device: Device,
) -> None:
    url = (await trio.to_thread.run_sync(url_of, device, "notes.txt"))["url"]
    async with connect(url, client_id=70) as watcher:
        with trio.fail_after(30):
            await watcher.synced.wait()
        async with connect(url, client_id=71) as app:
            await app.ws.send_message(awareness_message(71, {"user": "ann"}))
            await until(lambda: bool(watcher.awareness), "the state at the watcher")
            seen = pycrdt.Awareness(pycrdt.Doc(client_id=1))
            seen.apply_awareness_update(watcher.awareness[-1], "remote")
            assert seen.states[71] == {"user": "ann"}
            # A client connecting now gets the room's states at once.
            async with connect(url, client_id=72) as late:
                await until(lambda: bool(late.awareness), "the states at a new client")
            count = len(watcher.awareness)  # the removal may come before the block ends
        await until(lambda: len(watcher.awareness) > count, "the removal at the watcher")
        seen.apply_awareness_update(watcher.awareness[count], "remote")
        assert 71 not in seen.states


def test_doc_url_without_a_daemon_exits_3(tmp_path: Path) -> None:
    idle = Device(tmp_path, "idle")
    setup(idle.home, "share", "add", str(idle.folder), "--create")
    (idle.folder / "notes.txt").write_text("x")
    result = url_cli(idle, "notes.txt")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1


async def test_an_update_with_a_gap_is_held_and_the_app_asked_for_the_rest(device: Device) -> None:
    """As with a peer: an update depending on changes the doc lacks is not applied;
    the daemon sends its state vector and the app's SyncStep2 brings both."""
    url = (await trio.to_thread.run_sync(url_of, device, "notes.txt"))["url"]
    async with connect(url, client_id=80) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        side: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=81)
        side.apply_update(app.doc.get_update())
        text = side.get("content", type=pycrdt.Text)
        before = side.get_state()
        text.insert(0, "g")
        middle = side.get_state()
        text.insert(1, "ap ")
        second = side.get_update(middle)  # depends on the "g" the daemon never got
        app.doc.apply_update(side.get_update(before))
        app._outbox.clear()  # the app holds both, and has sent neither
        await app.ws.send_message(pycrdt.create_update_message(second))
        path = device.folder / "notes.txt"
        await until(lambda: path.read_text().startswith("gap "), "both edits in the file")
        assert app.closed is None


def app_clients(device: Device) -> list[dict[str, Any]]:
    status = json.loads(cli(device.home, "status", "--json").stdout)
    found: list[dict[str, Any]] = [app for share in status["shares"] for app in share["apps"]]
    return found


async def test_status_lists_the_files_apps_are_connected_to(device: Device) -> None:
    url = (await trio.to_thread.run_sync(url_of, device, "notes.txt"))["url"]
    async with connect(url, client_id=80) as first, connect(url, client_id=81) as second:
        with trio.fail_after(30):
            await first.synced.wait()
            await second.synced.wait()
        listed = await trio.to_thread.run_sync(app_clients, device)
        assert listed == [{"path": "notes.txt", "clients": 2}]
        human = await trio.to_thread.run_sync(lambda: cli(device.home, "status").stdout)
        assert "notes.txt: 2 connected" in human
    await until_blocking(lambda: app_clients(device) == [], "no app listed once both left")


@contextlib.contextmanager
def app_events(device: Device) -> Iterator[list[dict[str, Any]]]:
    """The ``app-*`` events ``device`` publishes while the block runs, as they come."""
    client = ControlClient(Home.resolve(device.home).socket_path)
    seen: list[dict[str, Any]] = []
    subscribed = threading.Event()

    def follow() -> None:
        for event in client.events():
            subscribed.set()
            if str(event.get("type", "")).startswith("app-"):
                seen.append(event)

    def said_something() -> bool:  # an event only a live subscription can have seen
        cli(device.home, "pause")
        cli(device.home, "resume")
        return subscribed.is_set()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    wait_for(said_something, "the subscription")
    try:
        yield seen
    finally:
        client.close()
        reader.join(timeout=10)


async def test_apps_connecting_and_leaving_are_events_naming_the_file(device: Device) -> None:
    url = (await trio.to_thread.run_sync(url_of, device, "other.txt"))["url"]
    with app_events(device) as seen:
        async with connect(url, client_id=90) as first:
            with trio.fail_after(30):
                await first.synced.wait()
            async with connect(url, client_id=91) as second:
                with trio.fail_after(30):
                    await second.synced.wait()
        await until(lambda: len(seen) == 4, "four app events")
    said = [(e["type"], e["path"], e["clients"]) for e in seen]
    assert said == [
        ("app-connected", "other.txt", 1), ("app-connected", "other.txt", 2),
        ("app-disconnected", "other.txt", 1), ("app-disconnected", "other.txt", 0),
    ]  # fmt: skip


async def test_an_app_on_a_ydoc_not_made_yet_is_listed_and_told_by_its_path(
    device: Device,
) -> None:
    url = (await trio.to_thread.run_sync(url_of, device, "plans/board.ydoc"))["url"]
    with app_events(device) as seen:
        async with connect(url, client_id=92) as app:
            with trio.fail_after(30):
                await app.synced.wait()
            listed = await trio.to_thread.run_sync(app_clients, device)
            assert listed == [{"path": "plans/board.ydoc", "clients": 1}]
        await until(lambda: len(seen) == 2, "two app events")
    said = [(e["type"], e["path"], e["clients"]) for e in seen]
    assert said == [("app-connected", "plans/board.ydoc", 1),
                    ("app-disconnected", "plans/board.ydoc", 0)]  # fmt: skip
    assert not (device.folder / "plans").exists()  # an app that only reads makes nothing
