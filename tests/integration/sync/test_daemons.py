"""Two and three real daemons on loopback keep a share's documents identical."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pycrdt
import pytest

from p2psync.storage import append_update
from p2psync.storage.layout import log_path
from tests.support.daemons import Device, cli, free_port, link, make_share, setup, wait_for


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[list[Device]]:
    made = [Device(tmp_path, name) for name in ("alice", "bob", "carol")]
    yield made
    for device in made:
        device.stop(signal.SIGKILL)


def test_edits_reach_every_peer_and_offline_peers_catch_up(devices: list[Device]) -> None:
    alice, bob, carol = devices
    make_share(devices)
    for device in devices:
        device.start()
    link(devices)

    alice.apply_text("notes.md", "from alice. ", client_id=1)
    wait_for(lambda: carol.text("notes.md") == "from alice. ", "alice's edit at carol")
    assert bob.text("notes.md") == "from alice. "

    # A direct log append by another local program reaches the peers too.
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=2)
    doc.get("content", type=pycrdt.Text).insert(0, "appended")
    append_update(log_path(bob.folder, "other.md"), doc.get_update())
    wait_for(lambda: alice.text("other.md") == "appended", "a log append at alice")

    carol.stop()
    bob.apply_text("notes.md", "bob while carol is away. ", client_id=3)
    wait_for(
        lambda: alice.text("notes.md") == "from alice. bob while carol is away. ", "bob's edit"
    )
    carol.start()
    link(devices)
    wait_for(lambda: carol.text("notes.md") == alice.text("notes.md"), "carol catching up")
    assert cli(carol.home, "wait-idle", "--timeout", "30", "--min-peers", "2").returncode == 0


def test_offline_edits_on_both_sides_merge(devices: list[Device]) -> None:
    alice, bob, _ = devices
    pair = [alice, bob]
    make_share(pair)
    for device in pair:
        device.start()
    link(pair)
    alice.apply_text("doc", "base. ", client_id=10)
    wait_for(lambda: bob.text("doc") == "base. ", "the base text at bob")
    bob.stop()
    alice.apply_text("doc", "alice offline. ", client_id=11)
    alice.stop()
    bob.start()
    bob.apply_text("doc", "bob offline. ", client_id=12)
    alice.start()
    link(pair)
    wait_for(lambda: alice.text("doc") == bob.text("doc"), "the merge")
    merged = alice.text("doc")
    assert merged is not None
    assert merged.startswith("base. ")
    assert "alice offline. " in merged
    assert "bob offline. " in merged
    assert len(merged) == len("base. alice offline. bob offline. ")


def test_sigkill_mid_sync_loses_nothing_durable(devices: list[Device]) -> None:
    alice, bob, _ = devices
    pair = [alice, bob]
    make_share(pair)
    for device in pair:
        device.start()
    link(pair)
    for i in range(20):
        alice.apply_text("log.md", f"{i},", client_id=100 + i)
    bob.stop(signal.SIGKILL)  # possibly in the middle of receiving
    expected = "".join(f"{i}," for i in range(20))
    assert alice.text("log.md") == expected  # every acknowledged apply is durable
    alice.stop(signal.SIGKILL)
    alice.start()
    assert alice.text("log.md") == expected
    bob.start()
    link(pair)
    wait_for(lambda: bob.text("log.md") == expected, "bob reconverging after SIGKILL")


def test_non_members_get_nothing(devices: list[Device]) -> None:
    alice, bob, carol = devices
    make_share([alice, bob])
    setup(carol.home, "share", "add", str(carol.folder), "--create")
    for device in devices:
        device.start()
    alice.apply_text("secret.md", "members only", client_id=20)
    setup(carol.home, "peer", "add", alice.id, alice.address)
    wait_for(lambda: carol.id in alice.status()["pending"], "carol pending at alice")
    assert carol.status()["connected"] == []
    assert carol.text("secret.md") is None


def test_an_existing_doc_reaches_a_new_peer_with_no_further_edits(devices: list[Device]) -> None:
    alice, bob, _ = devices
    pair = [alice, bob]
    make_share(pair)
    alice.start()
    alice.apply_text("old.md", "written before bob ever connected", client_id=30)
    alice.stop()
    for device in pair:
        device.start()
    link(pair)
    wait_for(lambda: bob.text("old.md") == "written before bob ever connected", "the initial sync")
    assert cli(bob.home, "wait-idle", "--timeout", "30", "--min-peers", "1").returncode == 0
    bob.stop()
    bob.start()  # what bob stored is what bob shows
    assert bob.text("old.md") == "written before bob ever connected"


def test_both_dialing_at_once_leaves_exactly_one_connection(devices: list[Device]) -> None:
    alice, bob, _ = devices
    pair = [alice, bob]
    make_share(pair)
    ports = {alice.id: free_port(), bob.id: free_port()}
    setup(alice.home, "peer", "add", bob.id, f"127.0.0.1:{ports[bob.id]}")
    setup(bob.home, "peer", "add", alice.id, f"127.0.0.1:{ports[alice.id]}")
    for device in pair:  # both dial the other as soon as they start
        device.start(ports[device.id])

    def since(device: Device) -> list[float]:
        peers = json.loads(cli(device.home, "peers", "--json").stdout)["peers"]
        return [p["connected_since"] for p in peers if p["connected"]]

    def links_left(device: Device) -> int:
        """Links the log says came up and did not go: every one registered went, but
        one. (A later link either replaced an earlier one, or came after the earlier
        one had ended on the peer's goodbye; a link replaced in the race logs its end
        a moment after the survivor is up.)"""
        text = (device.home / "daemon.log").read_text()
        return text.count(") connected at") - text.count(" disconnected\n")

    wait_for(lambda: len(since(alice)) == 1 and len(since(bob)) == 1
             and links_left(alice) == 1 and links_left(bob) == 1,
             "one connection each, every other link gone")  # fmt: skip
    first = since(alice), since(bob)
    alice.apply_text("dial.md", "still one link", client_id=40)
    wait_for(lambda: bob.text("dial.md") == "still one link", "an edit over the link")
    assert (since(alice), since(bob)) == first  # the surviving link was never replaced
    assert alice.status()["connected"] == [bob.id]
    assert bob.status()["connected"] == [alice.id]
    logs = [(d.home / "daemon.log").read_text() for d in pair]
    assert all("sync with peer" in text for text in logs)  # each side's sync start
    for device, text in zip(pair, logs, strict=True):
        assert links_left(device) == 1
        assert text.count("replaces the one") <= text.count(") connected at") - 1
