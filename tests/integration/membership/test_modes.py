"""Member modes and removal between three real daemons, set on one and propagated.

Alice makes bob receive-only: carol learns it from alice, nobody applies or forwards
bob's edits, bob is told so, and he still receives. Alice makes carol send-only:
carol's edits still reach everyone, others' do not change her copy, and alice counts
both as in sync. Alice removes bob: he is cut off at once, everywhere.
"""

from __future__ import annotations

import json
import queue
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.ids import DeviceId
from tests.support.daemons import DEADLINE_S, Device, cli, link, make_share, setup, wait_for
from tests.support.probes import members

CUT_OFF_S = 5.0


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[list[Device]]:
    made = [Device(tmp_path, name) for name in ("alice", "bob", "carol")]
    yield made
    for device in made:
        device.stop(signal.SIGKILL)


def share_status(device: Device, share: str) -> dict[str, Any]:
    shares: list[dict[str, Any]] = device.status()["shares"]
    return next(s for s in shares if s["id"] == share)


def told_receive_only_by(device: Device, share: str) -> set[str]:
    errors = share_status(device, share)["errors"]
    return {e.get("device", "") for e in errors if e.get("code") == "receive-only"}


def member_state(device: Device, share: str, member: str) -> str:
    rows = share_status(device, share)["members"]
    return str(next(m["state"] for m in rows if m["device_id"] == member))


def text(device: Device) -> str:
    return device.text("notes.md") or ""


def test_modes_and_removal_are_enforced_by_every_member(devices: list[Device]) -> None:
    alice, bob, carol = devices
    share = make_share(devices)
    for device in devices:
        device.start()
    link(devices)
    alice.apply_text("notes.md", "base. ", client_id=1)
    wait_for(lambda: text(bob) == text(carol) == "base. ", "the base text everywhere")

    # Receive-only: set on alice, known to carol and to bob himself.
    setup(alice.home, "share", "member", "add", share, bob.id, "--mode", "receive-only")
    wait_for(lambda: members(carol, share).get(bob.id) == "receive-only", "the mode at carol")
    wait_for(lambda: share_status(bob, share)["mode"] == "receive-only", "bob's own mode")
    bob.apply_text("notes.md", "bob. ", client_id=2)
    wait_for(
        lambda: told_receive_only_by(bob, share) == {alice.id, carol.id}, "bob told he is refused"
    )
    alice.apply_text("notes.md", "alice. ", client_id=3)
    wait_for(lambda: "alice. " in text(bob), "alice's edit at the receive-only bob")
    wait_for(lambda: text(carol) == "base. alice. ", "alice's edit at carol")
    assert text(alice) == "base. alice. "  # bob's edit applied by nobody, forwarded by nobody

    # Send-only: carol's edits flow out, nobody else's flow in.
    setup(alice.home, "share", "member", "add", share, carol.id, "--mode", "send-only")
    wait_for(lambda: share_status(carol, share)["mode"] == "send-only", "carol's own mode")
    wait_for(lambda: members(bob, share).get(carol.id) == "send-only", "the mode at bob")
    carol.apply_text("notes.md", "carol. ", client_id=4)
    wait_for(lambda: text(alice) == "base. alice. carol. ", "carol's edit at alice")
    wait_for(lambda: "carol. " in text(bob), "carol's edit at bob")
    alice.apply_text("notes.md", "ignored by carol. ", client_id=5)
    wait_for(lambda: "ignored by carol. " in text(bob), "alice's edit at bob")
    assert cli(alice.home, "wait-idle", "--timeout", "20").returncode == 0
    assert "ignored by carol. " not in text(carol)

    # Removal: bob is cut off at once by alice, and by carol once she hears of it.
    setup(alice.home, "share", "member", "add", share, carol.id, "--mode", "send-receive")
    setup(alice.home, "share", "member", "remove", share, bob.id)
    wait_for(
        lambda: bob.id not in share_status(alice, share)["peers_connected"],
        "bob cut off",
        CUT_OFF_S,
    )
    wait_for(lambda: bob.id not in members(carol, share), "the removal at carol")
    wait_for(lambda: bob.id not in share_status(carol, share)["peers_connected"], "carol cut bob")
    wait_for(
        lambda: {member_state(bob, share, m.id) for m in (alice, carol)} == {"removed-this-device"},
        "bob told by both",
    )
    alice.apply_text("notes.md", "after bob. ", client_id=6)
    wait_for(lambda: "after bob. " in text(carol), "alice's edit at carol")
    assert "after bob. " not in text(bob)
    peers = json.loads(cli(alice.home, "peers", "--json").stdout)["peers"]
    assert all(share not in p["shares"] for p in peers if p["device_id"] == bob.id)


def base_text(alice: Device, bob: Device) -> str:
    """Alice and bob running, linked, sharing a text "base. ": the share."""
    share = make_share([alice, bob])
    for device in (alice, bob):
        device.start()
    link([alice, bob])
    alice.apply_text("notes.md", "base. ", client_id=1)
    wait_for(lambda: text(bob) == "base. ", "the base text at bob")
    return share


def refused_edit(alice: Device, bob: Device) -> str:
    """Alice and bob share a text, alice makes bob receive-only and refuses his edit
    ("kept by bob. ", kept on his side): the share."""
    share = base_text(alice, bob)
    setup(alice.home, "share", "member", "add", share, bob.id, "--mode", "receive-only")
    wait_for(lambda: share_status(bob, share)["mode"] == "receive-only", "bob's own mode")
    bob.apply_text("notes.md", "kept by bob. ", client_id=2)
    wait_for(lambda: told_receive_only_by(bob, share) == {alice.id}, "bob told he is refused")
    assert text(alice) == "base. "
    return share


def test_a_receive_only_members_edits_sync_once_it_may_send_again(devices: list[Device]) -> None:
    # Refused while bob was receive-only, kept on his side (docs/concepts.md, "Modes"):
    # once alice makes him send-receive again, what he kept reaches her, on the same
    # link, and both end in sync instead of "syncing" for good.
    alice, bob, _ = devices
    share = refused_edit(alice, bob)
    setup(alice.home, "share", "member", "add", share, bob.id, "--mode", "send-receive")
    wait_for(lambda: text(alice) == "base. kept by bob. ", "bob's kept edit at alice")
    assert cli(alice.home, "wait-idle", "--timeout", "20").returncode == 0
    assert cli(bob.home, "wait-idle", "--timeout", "20").returncode == 0


def test_a_mode_changed_while_the_daemon_is_down_is_in_force_at_its_start(
    devices: list[Device],
) -> None:
    # Alice refuses bob's edit while he is receive-only; her daemon stops, and her
    # config makes him send-receive again offline. At her next start, what he kept
    # (refused before, made since) reaches her and both end in sync.
    alice, bob, _ = devices
    share = refused_edit(alice, bob)
    alice.stop()
    setup(alice.home, "share", "member", "add", share, bob.id, "--mode", "send-receive")
    (bob.folder / "meanwhile.md").write_text("made meanwhile")
    alice.start()
    link([alice, bob])
    wait_for(lambda: alice.text("meanwhile.md") == "made meanwhile", "bob's new file at alice")
    wait_for(lambda: text(alice) == "base. kept by bob. ", "bob's refused edit at alice")
    wait_for(lambda: share_status(bob, share)["mode"] == "send-receive", "bob's mode at bob")
    assert cli(alice.home, "wait-idle", "--timeout", "20").returncode == 0
    assert cli(bob.home, "wait-idle", "--timeout", "20").returncode == 0
    assert text(bob) == text(alice)


def test_a_mode_change_holds_when_the_daemon_is_killed_before_its_index_is_written(
    devices: list[Device],
) -> None:
    # Alice refuses bob's edit while he is receive-only, and bob stops; her index is
    # written with what his index told her. She makes him send-receive and her daemon
    # is killed at once, before it writes its index again: her next start has the new
    # mode in her config and member map from the outset, so it sees no change of mode,
    # and what bob kept must still reach her on his next link.
    alice, bob, _ = devices
    share = refused_edit(alice, bob)
    index = alice.folder / ".p2psync" / "index.bin"

    def written() -> int:
        return index.stat().st_mtime_ns if index.exists() else 0

    before = written()
    bob.stop()
    wait_for(lambda: written() > before, "alice's index written without bob")
    setup(alice.home, "share", "member", "add", share, bob.id, "--mode", "send-receive")
    alice.stop(signal.SIGKILL)
    alice.start()
    bob.start()
    link([alice, bob])
    wait_for(lambda: text(alice) == "base. kept by bob. ", "bob's refused edit at alice")
    assert cli(alice.home, "wait-idle", "--timeout", "20").returncode == 0


def test_a_removed_member_is_told_and_waits_for_the_remover_no_more(
    devices: list[Device],
) -> None:
    # Alice removes bob: bob learns it from her (docs/protocol.md, 4.5), shows her as
    # having removed him, stops counting her as a member to sync with, and keeps his
    # files; after a restart too, and until she adds him again.
    alice, bob, _ = devices
    share = base_text(alice, bob)
    client = ControlClient(Home(bob.home).socket_path)
    events: queue.Queue[dict[str, object]] = queue.Queue()
    subscribed = threading.Event()

    def follow() -> None:
        for event in client.events(subscribed.set):
            events.put(event)

    threading.Thread(target=follow, daemon=True).start()
    try:
        assert subscribed.wait(DEADLINE_S)
        setup(alice.home, "share", "member", "remove", share, bob.id)
        seen = events.get(timeout=DEADLINE_S)
        while seen["type"] != "removed-from-share":
            seen = events.get(timeout=DEADLINE_S)
    finally:
        client.close()
    assert (seen["share"], seen["device"]) == (share, alice.id)
    wait_for(lambda: member_state(bob, share, alice.id) == "removed-this-device", "bob's view")
    assert bob.status()["state"] == "up-to-date"  # not "syncing" with alice for good
    assert cli(bob.home, "wait-idle", "--timeout", "20").returncode == 0
    out = cli(bob.home, "status").stdout.splitlines()
    said = [line for line in out if "removed this device from the share" in line]
    assert len(said) == 1
    assert DeviceId.parse(alice.id).short() in said[0]
    assert members(bob, share) == {alice.id: "send-receive"}  # his config is his own
    assert text(bob) == "base. "
    assert (bob.folder / "notes.md").read_text() == "base. "

    bob.stop()
    bob.start()
    assert member_state(bob, share, alice.id) == "removed-this-device"
    link([alice, bob])
    setup(alice.home, "share", "member", "add", share, bob.id)
    wait_for(lambda: member_state(bob, share, alice.id) == "in-sync", "bob added again")
    alice.apply_text("notes.md", "again. ", client_id=3)
    wait_for(lambda: text(bob) == "base. again. ", "alice's edit at bob again")
