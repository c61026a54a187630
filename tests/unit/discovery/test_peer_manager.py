"""What PeerManager does with devices LAN discovery reports (no network: no nursery
runs, so nothing is dialed; the decisions are checked)."""

from __future__ import annotations

from pathlib import Path

from p2psync.config import Config, Member, PeerConfig, ShareConfig
from p2psync.daemon.events import EventBus
from p2psync.daemon.peers import PeerManager
from p2psync.ids import DeviceId, ShareId
from p2psync.net.identity import load_or_create_identity

MEMBER = DeviceId(bytes(range(32)))
STRANGER = DeviceId(bytes(range(1, 33)))
STATIC = DeviceId(bytes(range(2, 34)))


def manager(tmp_path: Path) -> PeerManager:
    share = ShareConfig(ShareId(bytes(16)), tmp_path, (Member(MEMBER), Member(STATIC)))
    config = Config("here", shares=(share,), peers=(PeerConfig(STATIC, ("10.0.0.9:22070",)),))
    identity = load_or_create_identity(tmp_path / "identity")
    return PeerManager(identity, lambda: config, dict, EventBus())


def test_only_members_are_taken_from_discovery(tmp_path: Path) -> None:
    peers = manager(tmp_path)
    peers.dialer.discovered(MEMBER, ("10.0.0.2:22070",))
    peers.dialer.discovered(STRANGER, ("10.0.0.3:22070",))
    peers.dialer.discovered(peers.identity.device_id, ("10.0.0.4:22070",))
    assert peers.dialer.lan_addresses == {MEMBER: ("10.0.0.2:22070",)}
    assert peers.dialer.found_by(MEMBER) == "mdns"
    assert peers.dialer.found_by(STRANGER) == ""
    assert peers.known == {}  # nothing shows in status before a connection


def test_configured_addresses_are_dialed_before_announced_ones(tmp_path: Path) -> None:
    peers = manager(tmp_path)
    peers.dialer.discovered(STATIC, ("10.0.0.5:22070", "10.0.0.9:22070"))
    assert peers.dialer._dial_addresses(STATIC) == ("10.0.0.9:22070", "10.0.0.5:22070")
    assert peers.dialer._found_by(STATIC, "10.0.0.9:22070") == "static"
    assert peers.dialer._found_by(STATIC, "10.0.0.5:22070") == "mdns"
    assert peers.dialer.found_by(STATIC) == "static"


def test_a_vanished_device_keeps_only_its_configured_addresses(tmp_path: Path) -> None:
    peers = manager(tmp_path)
    peers.dialer.discovered(MEMBER, ("10.0.0.2:22070",))
    peers.dialer.discovered(STATIC, ("10.0.0.5:22070",))
    peers.dialer.vanished(MEMBER)
    peers.dialer.vanished(STATIC)
    assert peers.dialer._dial_addresses(MEMBER) == ()
    assert peers.dialer._dial_addresses(STATIC) == ("10.0.0.9:22070",)
