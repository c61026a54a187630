"""Presence across the LAN on real daemons: an app's awareness state on one device
reaches the apps of the same file on the other, and is removed there when the app
leaves, or when it stays silent past the timeout."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from tests.integration.apps.yclient import connect, until
from tests.support.apps import doc_url, start
from tests.support.daemons import Device, make_share

TIMEOUT_S = 2.0
"""The awareness timeout of the silence test; the other tests keep y-protocols' 30 s."""
ADA = {"user": {"name": "ada", "color": "#f00"}, "cursor": {"anchor": 3, "head": 5}}
BOB = {"user": {"name": "bob"}, "cursor": None}


def enable_apps(device: Device, timeout_s: float | None) -> None:
    with (device.home / "config.toml").open("a") as config:
        config.write("\n[apps]\nport = 0\n")
        if timeout_s is not None:
            config.write(f"awareness_timeout_s = {timeout_s}\n")


@pytest.fixture
def pair(pair: list[Device], request: pytest.FixtureRequest, tmp_path: Path) -> list[Device]:
    make_share(pair)
    timeout_s = TIMEOUT_S if "silent" in request.node.name else None
    for device in pair:
        enable_apps(device, timeout_s)
    return pair


async def test_presence_crosses_the_lan_and_leaves_with_the_app(pair: list[Device]) -> None:
    alice, bob = pair
    await trio.to_thread.run_sync(start, pair, "notes.txt", "hello\n")
    at_alice = (await trio.to_thread.run_sync(doc_url, alice, "notes.txt"))["url"]
    at_bob = (await trio.to_thread.run_sync(doc_url, bob, "notes.txt"))["url"]

    async with connect(at_bob, client_id=22) as b:
        async with connect(at_alice, client_id=11) as a:
            with trio.fail_after(30):
                await a.synced.wait()
                await b.synced.wait()
            await a.set_presence(ADA)
            await until(lambda: b.peers_presence().get(11) == ADA, "ada's cursor at bob")
            await b.set_presence(BOB)
            await until(lambda: a.peers_presence().get(22) == BOB, "bob's cursor at alice")

            # An app opening the file later gets the other device's states at once.
            async with connect(at_bob, client_id=33) as late:
                await until(lambda: late.peers_presence() == {11: ADA, 22: BOB},
                            "both cursors in the late app")  # fmt: skip

            moved = {**ADA, "cursor": {"anchor": 4, "head": 4}}
            await a.set_presence(moved)
            await until(lambda: b.peers_presence().get(11) == moved, "ada's moved cursor")
            left = time.monotonic()
        # Alice's app is gone: bob's app is told, well before the 30 s timeout.
        await until(lambda: 11 not in b.peers_presence(), "ada gone at bob", deadline_s=20)
        assert time.monotonic() - left < 25
        assert b.peers_presence() == {}
        assert b.closed is None


async def test_a_silent_app_is_removed_after_the_timeout_on_every_device(
    pair: list[Device],
) -> None:
    alice, bob = pair
    await trio.to_thread.run_sync(start, pair, "notes.txt", "hello\n")
    at_alice = (await trio.to_thread.run_sync(doc_url, alice, "notes.txt"))["url"]
    at_bob = (await trio.to_thread.run_sync(doc_url, bob, "notes.txt"))["url"]

    async with (
        connect(at_alice, client_id=11) as silent,
        connect(at_alice, client_id=12) as neighbour,
        connect(at_bob, client_id=22) as b,
    ):
        with trio.fail_after(30):
            for app in (silent, neighbour, b):
                await app.synced.wait()
        said = time.monotonic()
        await silent.set_presence(ADA)  # and never renews it
        await until(lambda: neighbour.peers_presence().get(11) == ADA, "ada at alice")
        await until(lambda: b.peers_presence().get(11) == ADA, "ada at bob")
        await until(lambda: 11 not in b.peers_presence(), "ada timed out at bob")
        await until(lambda: 11 not in neighbour.peers_presence(), "ada timed out at alice")
        assert time.monotonic() - said >= TIMEOUT_S
        # Timed out, not disconnected: the silent app is still served.
        assert silent.closed is None
        await silent.edit(lambda text: text.insert(0, "still here "))
        await until(lambda: str(b.text).startswith("still here"), "the silent app's edit")
        # Once it speaks again, it is back everywhere.
        await silent.set_presence({**ADA, "cursor": None})
        await until(lambda: 11 in b.peers_presence(), "ada back at bob")
