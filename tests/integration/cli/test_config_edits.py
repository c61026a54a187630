"""``share add``, ``share member add``, ``peer add``/``remove`` and ``name``: refused
with one sentence and exit 2, and applied, the same whether the CLI edits the config
or a daemon does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2psync.config import Config, PeerConfig, load_config
from p2psync.control.home import Home
from p2psync.errors import ControlError
from p2psync.ids import DeviceId
from tests.support.daemons import Device, cli, link, wait_for

STRANGER = str(DeviceId.from_certificate_der(b"a device that never runs"))
BAD_ADDRESSES = {
    "127.0.0.1:22070:5": "has more than one ':'",
    "http://127.0.0.1:22070": "has a scheme",
    "300.1.1.1:22070": "is not an IPv4 address",
    "::1:22070": "needs brackets: [::1]:22070",
    "127.0.0.1 :22070": "contains a space",
    "127.0.0.1:0": "is not a number from 1 to 65535",
}


def config(device: Device) -> Config:
    return load_config(Home.resolve(device.home).config_path)


def refused(device: Device, args: tuple[str, ...], sentence: str) -> None:
    """``args`` exits 2 with one sentence holding ``sentence`` and changes nothing."""
    before = config(device)
    result = cli(device.home, *args, check=False)
    assert result.returncode == 2, (args, result.stderr)
    assert sentence in result.stderr, (args, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert config(device) == before


def check_share_add(device: Device, root: Path) -> None:
    """Every refusal of ``share add``, then ``--create``."""
    home = device.home.resolve()
    (root / "x" / ".p2psync" / "logs").mkdir(parents=True)
    (root / "old" / "notes" / ".p2psync").mkdir(parents=True)  # a share removed here
    inner = root / "outer" / "inner"
    inner.mkdir(parents=True)
    cli(device.home, "share", "add", str(inner))
    cases = [
        ((str(home),), "holds this device's home"),
        ((str(home.parent),), "holds this device's home"),
        ((str(home / "identity"),), "is inside this device's home"),
        ((str(home / "state" / "x"), "--create"), "is inside this device's home"),
        ((str(root / "x" / ".p2psync" / "logs"),), "is inside a .p2psync folder"),
        ((str(inner / "sub"), "--create"), "is inside the share"),
        ((str(root / "outer"),), "holds the share"),
        ((str(root / "old"),), f"holds {root / 'old' / 'notes' / '.p2psync'}"),
        ((str(inner),), "is already shared"),
        ((str(root / "typo"),), "does not exist (pass --create"),
    ]
    for args, sentence in cases:
        refused(device, ("share", "add", *args), sentence)
    assert not (root / "typo").exists()
    assert not (inner / "sub").exists()
    cli(device.home, "share", "add", str(root / "typo"), "--create")
    assert (root / "typo").is_dir()
    # Inside the home, beside its own files (not in identity/ or state/): allowed.
    cli(device.home, "share", "add", str(home / "notes"), "--create")
    assert [s for s in config(device).shares if s.path == home / "notes"]


def check_peer_commands(device: Device) -> None:
    for address, problem in BAD_ADDRESSES.items():
        refused(device, ("peer", "add", STRANGER, address), problem)
    cli(device.home, "peer", "add", STRANGER, "[::1]:22070")
    cli(device.home, "peer", "add", STRANGER, "nas.local:22070")
    peer = config(device).peer(DeviceId.parse(STRANGER))
    assert peer is not None
    assert peer.addresses == ("[::1]:22070", "nas.local:22070")
    refused(device, ("peer", "name", STRANGER, "a\tb"), "holds a control character")
    refused(device, ("peer", "name", "not-a-device", "nas"), "not-a-device")
    cli(device.home, "peer", "name", STRANGER, "the NAS")
    named = config(device).peer(DeviceId.parse(STRANGER))
    assert named == PeerConfig(DeviceId.parse(STRANGER), peer.addresses, "the NAS")
    cli(device.home, "peer", "name", STRANGER, "")  # forgets the name, keeps the addresses
    assert config(device).peer(DeviceId.parse(STRANGER)) == peer
    cli(device.home, "peer", "remove", STRANGER)
    assert config(device).peer(DeviceId.parse(STRANGER)) is None
    refused(device, ("peer", "remove", STRANGER), "has no static address to remove")


def check_name(device: Device, name: str) -> None:
    refused(device, ("name", ""), "cannot be empty")
    refused(device, ("name", "x" * 65), "at most 64 characters")
    refused(device, ("name", "a\tb"), "holds a control character")
    cli(device.home, "name", name)
    assert config(device).device_name == name


def test_share_add_refusals_without_a_daemon(tmp_path: Path) -> None:
    check_share_add(Device(tmp_path, "alice"), tmp_path)


def test_share_add_refusals_with_a_daemon(tmp_path: Path) -> None:
    alice = Device(tmp_path, "alice")
    alice.start()
    try:
        served = len(alice.status()["shares"])
        check_share_add(alice, tmp_path)
        assert len(alice.status()["shares"]) == served + 3  # it serves the shares it added
    finally:
        alice.stop()


def test_peer_and_name_without_a_daemon(tmp_path: Path) -> None:
    device = Device(tmp_path, "alice")
    cli(device.home, "share", "list")  # writes the first config, to compare with
    check_peer_commands(device)
    check_name(device, "alice's laptop")


def test_peer_and_name_with_daemons(pair: tuple[Device, Device]) -> None:
    alice, bob = pair
    check_peer_commands(alice)
    check_name(alice, "alice's laptop")
    assert alice.status()["name"] == "alice's laptop"  # at once in its own status

    def bob_sees_the_name() -> bool:  # and in the hello of its next link
        peers = json.loads(cli(bob.home, "peers", "--json").stdout)["peers"]
        return any(p["name"] == "alice's laptop" and p["connected"] for p in peers)

    link([alice, bob])
    wait_for(bob_sees_the_name, "bob to see alice's new name")
    cli(bob.home, "peer", "remove", alice.id)
    peer = config(bob).peer(DeviceId.parse(alice.id))
    assert peer is not None  # a member keeps its entry, without addresses
    assert peer.addresses == ()

    cli(bob.home, "peer", "name", alice.id, "the big desk")
    rows = json.loads(cli(bob.home, "peers", "--json").stdout)["peers"]
    row = next(p for p in rows if p["device_id"] == alice.id)
    assert row["display_name"] == "the big desk"
    assert row["name"] == "alice's laptop"  # what alice announces stays as it is


def check_member_add_of_itself(device: Device) -> None:
    """``share member add`` of this device's own ID: refused, the config unchanged (it
    made the device a member and a peer of itself); over the control API too."""
    share = str(next(iter(config(device).shares)).id)
    for own in (device.id, device.id.lower()):
        refused(device, ("share", "member", "add", share, own), "is this device")
    if Home.resolve(device.home).socket_path.exists():
        before = config(device)
        with pytest.raises(ControlError) as error:
            device.ask("share.member.add", share=share, device=device.id, mode="send-receive")
        assert error.value.code == "usage"
        assert config(device) == before


def test_member_add_of_itself_is_refused_without_a_daemon(tmp_path: Path) -> None:
    device = Device(tmp_path, "alice")
    cli(device.home, "share", "list")  # writes the first config, to compare with
    check_member_add_of_itself(device)


def test_member_add_of_itself_is_refused_by_a_daemon(tmp_path: Path) -> None:
    device = Device(tmp_path, "alice")
    device.start()
    try:
        check_member_add_of_itself(device)
    finally:
        device.stop()
