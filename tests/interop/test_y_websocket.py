"""Stock Node Yjs apps on two daemons: y-websocket's ``WebsocketProvider`` (over
``ws``) on each device edits the same text file and sees the other's cursor, and two
TinyBase stores bound by ``createYjsPersister`` to the same ``.ydoc`` app doc merge
their cells (the npm packages pinned in ``package.json``, installed by ``make``)."""

from __future__ import annotations

import json
import socket
import subprocess
from typing import Any

import pytest

from tests.support.apps import doc_url, read
from tests.support.daemons import Device, link, make_share, start_all, wait_for
from tests.support.nodeapps import TOOL, NodeApp, node, text_apps


@pytest.fixture
def pair(pair: list[Device]) -> list[Device]:
    make_share(pair)
    for device in pair:
        with (device.home / "config.toml").open("a") as config:
            config.write("\n[apps]\nport = 0\n")
    return pair


def test_y_websocket_apps_on_two_devices_edit_one_file_and_see_each_other(
    pair: list[Device], apps: list[NodeApp]
) -> None:
    alice, _bob = pair
    a, b = text_apps(pair, apps, "hello\n")

    # An edit in the app on bob lands in alice's file; alice's save reaches it.
    b.send(op="insert", index=6, text="from bob's app\n")
    wait_for(lambda: read(alice.folder / "notes.txt") == "hello\nfrom bob's app\n",
             "bob's app's edit in alice's file")  # fmt: skip
    a.until(lambda seen: seen["text"] == "hello\nfrom bob's app\n", "the edit in alice's app")
    (alice.folder / "notes.txt").write_text("saved by alice\nhello\nfrom bob's app\n")
    b.until(lambda seen: seen["text"].startswith("saved by alice\n"), "alice's save in bob's app")

    # Cursors cross the LAN both ways, and leave with their app.
    ada = {"user": {"name": "ada", "color": "#30bced"}, "cursor": {"index": 3}}
    a.send(op="aware", state=ada)
    a_id = str(a.seen["client"])
    b.until(lambda seen: seen["others"].get(a_id) == ada, "ada's cursor in bob's app")
    b.send(op="aware", state={"user": {"name": "bob"}})
    a.until(lambda seen: {"user": {"name": "bob"}} in seen["others"].values(),
            "bob's state in alice's app")  # fmt: skip
    a.close()
    b.until(lambda seen: a_id not in seen["others"], "ada gone from bob's app")


@pytest.mark.slow
def test_tinybase_stores_on_two_devices_share_a_ydoc(
    pair: list[Device], apps: list[NodeApp]
) -> None:
    alice, bob = pair
    start_all(pair)
    link(pair)
    a = NodeApp(doc_url(alice, "store.ydoc"), "tinybase")
    wait_for((bob.folder / "store.ydoc").exists, "the app doc at bob")
    b = NodeApp(doc_url(bob, "store.ydoc"), "tinybase")
    apps += [a, b]
    for app in (a, b):
        app.until(lambda seen: seen["synced"], "a synced store")

    a.send(op="cell", table="pets", row="fido", cell="species", value="dog")
    b.until(lambda seen: seen["tables"] == {"pets": {"fido": {"species": "dog"}}},
            "alice's cell in bob's store")  # fmt: skip
    # Concurrent writes of different cells of an existing row both survive.
    a.send(op="cell", table="pets", row="fido", cell="legs", value=4)
    b.send(op="cell", table="pets", row="fido", cell="sold", value=True)
    both = {"pets": {"fido": {"species": "dog", "legs": 4, "sold": True}}}
    for app in (a, b):
        app.until(lambda seen: seen["tables"] == both, "both cells in each store")

    b.send(op="aware", state={"user": {"name": "bob"}})
    a.until(lambda seen: {"user": {"name": "bob"}} in seen["others"].values(),
            "bob's presence at alice")  # fmt: skip
    b_id = str(b.seen["client"])
    b.close()
    a.until(lambda seen: b_id not in seen["others"], "bob's presence gone at alice")

    # The file on alice's device, read by Node's yjs and TinyBase, holds the store.
    def in_file() -> Any:
        result = subprocess.run(
            [node(), str(TOOL), "tinybase", str(alice.folder / "store.ydoc")],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return json.loads(result.stdout)

    wait_for(lambda: in_file() == both, "the store in alice's .ydoc file")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_apps_edit_offline_and_across_restarts_and_lose_nothing(
    pair: list[Device], apps: list[NodeApp]
) -> None:
    alice, bob = pair
    for device in pair:  # a port that stays the same across restarts, as 22071 does
        config = device.home / "config.toml"
        text = config.read_text()
        assert "[apps]\nport = 0\n" in text
        config.write_text(text.replace("[apps]\nport = 0\n", f"[apps]\nport = {free_port()}\n"))
    a, b = text_apps(pair, apps, "start\n")

    # Bob's device is off while alice's app edits: it catches up on return, and so
    # does bob's app, which reconnects by itself.
    bob.stop()
    a.send(op="insert", index=6, text="while bob was away\n")
    wait_for(lambda: read(alice.folder / "notes.txt") == "start\nwhile bob was away\n",
             "the edit in alice's file")  # fmt: skip
    bob.start()
    link(pair)
    b.until(lambda seen: seen["text"] == "start\nwhile bob was away\n", "the edit at bob's app")
    wait_for(lambda: read(bob.folder / "notes.txt") == "start\nwhile bob was away\n",
             "the edit in bob's file")  # fmt: skip

    # Alice's daemon restarts under her app, which edits meanwhile: nothing is lost.
    alice.stop()
    a.send(op="insert", index=0, text="typed during the restart\n")
    alice.start()
    link(pair)
    whole = "typed during the restart\nstart\nwhile bob was away\n"
    b.until(lambda seen: seen["text"] == whole, "the offline edit at bob's app")
    for device in pair:
        wait_for(lambda d=device: read(d.folder / "notes.txt") == whole, "the whole file")  # type: ignore[misc]

    # Presence comes back with the reconnected apps.
    a.send(op="aware", state={"user": {"name": "ada"}})
    b.until(lambda seen: {"user": {"name": "ada"}} in seen["others"].values(), "ada at bob")
