"""LAN discovery between hosts in network namespaces, with real mDNS and real daemons.

Each test builds its own LAN (tests/support/testbed.py): one daemon per host, started
with ``--listen HOST_IP:22070`` and no static peer anywhere, so every connection comes
from mDNS. Polling goes through the control API (in this process), edits and exports
through the CLI as in tests/integration/sync.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from p2psync.config import load_config, save_config
from p2psync.control.home import Home
from p2psync.discovery.mdns import STOP_TIMEOUT_S
from p2psync.discovery.table import MAX_ENTRIES
from tests.support.daemons import cli, start_all, wait_for
from tests.support.testbed import (
    PORT,
    SUBNET,
    NetnsDevice,
    Testbed,
    share_among,
)

pytestmark = pytest.mark.netns

DISCOVERY_DEADLINE_S = 20.0
LIFECYCLE_ROUNDS = 5
FLOOD_SERVICES = 10_000
TABLE_ENTRIES = MAX_ENTRIES
MAX_FLOOD_GROWTH_BYTES = 64 * 1024 * 1024
"""zeroconf's own cache keeps every record until its TTL runs out (it has no size
bound); this bounds what 10,000 services cost altogether."""


def all_connected(devices: list[NetnsDevice]) -> bool:
    return all(d.connected() == {o.id for o in devices if o is not d} for d in devices)


def discovered_by(device: NetnsDevice) -> set[str]:
    """The devices ``device`` has heard announce themselves (its peers API)."""
    return {row["device_id"] for row in device.call("peers")["discovered"]}


def sees(device: NetnsDevice, other: NetnsDevice) -> bool:
    return other.id in discovered_by(device)


def texts_equal(devices: list[NetnsDevice], name: str, *parts: str) -> bool:
    texts = {d.text(name) for d in devices}
    if len(texts) != 1:
        return False
    text = texts.pop()
    return text is not None and all(part in text for part in parts)


def test_three_hosts_find_each_other_and_sync(
    testbed: Testbed, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    devices = [testbed.device(tmp_path, name) for name in ("alpha", "beta", "gamma")]
    share_among(devices)
    alpha, beta, gamma = devices
    started = time.monotonic()
    start_all(devices)
    wait_for(lambda: all_connected(devices), "all three to connect", DISCOVERY_DEADLINE_S)
    elapsed = time.monotonic() - started
    record_property("start_to_all_connected_s", round(elapsed, 2))
    print(f"\nthree hosts: start to all connected in {elapsed:.2f} s", file=sys.stderr)

    def every_announcement_seen() -> bool:  # a connection may come before it
        return all(discovered_by(d) == {o.id for o in devices if o is not d} for d in devices)

    wait_for(every_announcement_seen, "every announcement to be seen")
    found_by = {
        (d.id, p["device_id"]): p["found_by"]
        for d in devices
        for p in d.call("peers")["peers"]
        if p["connected"]
    }
    assert all(d.call("peers")["mdns"] for d in devices)
    # One link per pair: dialed, accepted. A device dials what it saw announced, or
    # an address a member it is connected to shared; the first link came from mDNS.
    for (one, other), how in found_by.items():
        assert {how, found_by[other, one]} in ({"mdns", "incoming"}, {"member", "incoming"})
    assert "mdns" in found_by.values(), found_by
    alpha.apply_text("notes.md", "from alpha. ", client_id=11)
    gamma.apply_text("todo.md", "from gamma. ", client_id=33)
    wait_for(lambda: texts_equal(devices, "notes.md", "from alpha."), "notes.md everywhere")
    wait_for(lambda: texts_equal(devices, "todo.md", "from gamma."), "todo.md everywhere")
    beta.apply_text("notes.md", "from beta. ", client_id=22)
    wait_for(
        lambda: texts_equal(devices, "notes.md", "from alpha.", "from beta."),
        "beta's edit everywhere",
    )


def test_a_host_whose_link_goes_down_keeps_editing_and_converges_after(
    testbed: Testbed, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    devices = [testbed.device(tmp_path, name) for name in ("alpha", "beta", "gamma")]
    share_among(devices)
    alpha, beta, gamma = devices
    start_all(devices)
    wait_for(lambda: all_connected(devices), "all three to connect", DISCOVERY_DEADLINE_S)
    alpha.apply_text("notes.md", "before. ", client_id=11)
    wait_for(lambda: texts_equal(devices, "notes.md", "before."), "the first edit everywhere")

    gamma.host.link_down()
    gamma.host.drop_connections()  # as if the outage outlasted TCP's patience
    wait_for(lambda: gamma.connected() == set(), "gamma to see its connections gone")
    gamma.apply_text("notes.md", "gamma offline. ", client_id=33)
    alpha.apply_text("notes.md", "alpha meanwhile. ", client_id=11)
    wait_for(lambda: "alpha meanwhile." in (beta.text("notes.md") or ""), "alpha's edit on beta")
    assert "alpha meanwhile." not in (gamma.text("notes.md") or "")
    assert "gamma offline." in (gamma.text("notes.md") or "")

    wait_for(lambda: "links up []" in gamma.log_text(), "gamma to notice its link is down")
    gamma.host.link_up()
    back = time.monotonic()
    wait_for(lambda: "links up ['eth0']" in gamma.log_text(), "gamma to notice its link is up")
    wait_for(lambda: all_connected(devices), "gamma to reconnect", 45.0)
    wait_for(
        lambda: texts_equal(devices, "notes.md", "before.", "gamma offline.", "alpha meanwhile."),
        "every edit everywhere",
    )
    elapsed = time.monotonic() - back
    record_property("link_up_to_converged_s", round(elapsed, 2))
    print(f"\nlink back: converged in {elapsed:.2f} s", file=sys.stderr)


def test_a_host_outside_the_share_discovers_the_others_but_receives_nothing(
    testbed: Testbed, tmp_path: Path
) -> None:
    alpha, beta = (testbed.device(tmp_path, name) for name in ("alpha", "beta"))
    share = share_among([alpha, beta])
    outsider = testbed.device(tmp_path, "outsider")
    # It even holds the share ID and lists the others as members: they do not list it.
    cli(outsider.home, "share", "add", str(outsider.folder), "--id", share, "--create")
    for member in (alpha, beta):
        cli(outsider.home, "share", "member", "add", share, member.id)
    start_all([alpha, beta, outsider])
    alpha.apply_text("notes.md", "members only. ", client_id=11)
    wait_for(lambda: beta.text("notes.md") == "members only. ", "the doc to reach beta")
    outsider.apply_text("notes.md", "outsider. ", client_id=99)

    wait_for(lambda: discovered_by(outsider) == {alpha.id, beta.id}, "the outsider to see both")
    wait_for(lambda: outsider.id in set(alpha.call("status")["pending"]), "outsider refused")
    for name, member in (("alpha", alpha), ("beta", beta)):
        # Each member hears the outsider's announcement on its own: one that has refused
        # it (alpha, above) may have heard it before the other did.
        wait_for(partial(sees, member, outsider), f"{name} to see the outsider")
        assert outsider.id not in member.connected()
    assert outsider.connected() == set()
    assert outsider.text("notes.md") == "outsider. "
    assert alpha.text("notes.md") == beta.text("notes.md") == "members only. "


def settled(device: NetnsDevice) -> bool:
    """Whether each of ``device``'s shares has taken its folder in (``settled``)."""
    return all(share["settled"] for share in device.call("status")["shares"])


def test_a_forged_announcement_leads_to_no_connection_and_no_state_change(
    testbed: Testbed, tmp_path: Path
) -> None:
    alpha, beta = (testbed.device(tmp_path, name) for name in ("alpha", "beta"))
    share = share_among([alpha, beta])
    mallory = testbed.device(tmp_path, "mallory")  # a daemon of its own, in no share
    start_all([alpha, mallory])
    alpha.apply_text("notes.md", "alpha's. ", client_id=11)
    for device in (alpha, mallory):  # its folders taken in: the state holds still
        wait_for(partial(settled, device), f"{device.home.name}'s shares settled")
    alpha_before, mallory_before = alpha.call("status"), mallory.call("status")

    # Beta is not running: a forger announces beta's ID, with beta's valid share hash,
    # at mallory's address.
    testbed.spawn(
        mallory.host, sys.executable, str(Path(__file__).with_name("spoof.py")),
        beta.id, share, mallory.host.ip, str(PORT), log=tmp_path / "spoof.log",
    )  # fmt: skip

    def forged_seen() -> bool:
        rows = alpha.call("peers")["discovered"]
        return any(r["device_id"] == beta.id and r["shares_in_common"] for r in rows)

    wait_for(forged_seen, "alpha to see the forged announcement", DISCOVERY_DEADLINE_S)
    short = beta.id[:7]
    wait_for(
        lambda: f"ignoring an announcement of {short}" in alpha.log_text(),
        "alpha to dial the forged address and refuse it",
    )
    assert alpha.connected() == set()
    assert mallory.connected() == set()
    for device, before in ((alpha, alpha_before), (mallory, mallory_before)):
        after = device.call("status")
        for key in ("connected", "pending", "errors", "state"):
            assert after[key] == before[key], key
        assert [s["docs"] for s in after["shares"]] == [s["docs"] for s in before["shares"]]
    assert all(p["device_id"] != beta.id for p in alpha.call("peers")["peers"])
    assert alpha.text("notes.md") == "alpha's. "

    beta.start()  # the real beta still gets through, despite the forgery
    wait_for(lambda: alpha.connected() == {beta.id}, "the real beta to connect")
    wait_for(lambda: beta.text("notes.md") == "alpha's. ", "the doc to reach the real beta")


def test_discovery_stops_promptly_when_cancelled_while_events_arrive(
    testbed: Testbed, tmp_path: Path
) -> None:
    devices = [testbed.device(tmp_path, name) for name in ("alpha", "beta")]
    share = share_among(devices)
    start_all(devices)
    host = testbed.add_host()
    script = str(Path(__file__).with_name("lifecycle.py"))
    result = subprocess.run(
        host.exec_args(sys.executable, script, str(LIFECYCLE_ROUNDS), host.ip, share),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rounds = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rounds) == LIFECYCLE_ROUNDS
    assert all(r["stop_s"] < STOP_TIMEOUT_S for r in rounds), rounds


def rss_bytes(device: NetnsDevice) -> int:
    assert device.process is not None
    status = Path(f"/proc/{device.process.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


def test_ten_thousand_forged_announcements_leave_memory_bounded_and_members_found(
    testbed: Testbed, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    devices = [testbed.device(tmp_path, name) for name in ("alpha", "beta")]
    share_among(devices)
    alpha, beta = devices
    start_all(devices)
    wait_for(lambda: all_connected(devices), "alpha and beta to connect", DISCOVERY_DEADLINE_S)
    before = rss_bytes(alpha)
    host = testbed.add_host()
    script = str(Path(__file__).with_name("flood.py"))
    result = subprocess.run(
        host.exec_args(sys.executable, script, str(FLOOD_SERVICES), host.ip),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]

    def table_full() -> bool:
        return len(alpha.call("peers")["discovered"]) >= TABLE_ENTRIES

    wait_for(table_full, "alpha's table to fill with forgeries", 60.0)
    wait_for(lambda: alpha.call("peers")["discovered"] is not None, "alpha to answer")
    discovered = alpha.call("peers")["discovered"]
    grown = rss_bytes(alpha) - before
    record_property("rss_growth_bytes", grown)
    print(
        f"\n{FLOOD_SERVICES} forged services: alpha's RSS grew {grown >> 20} MiB", file=sys.stderr
    )
    assert len(discovered) == TABLE_ENTRIES
    assert beta.id in {row["device_id"] for row in discovered}  # members are never evicted
    assert alpha.connected() == {beta.id}
    alpha.apply_text("notes.md", "after the flood. ", client_id=11)
    wait_for(lambda: beta.text("notes.md") == "after the flood. ", "sync after the flood")
    assert grown < MAX_FLOOD_GROWTH_BYTES, f"alpha's RSS grew by {grown} bytes"


def test_mdns_off_by_flag_or_config_while_static_peers_still_work(
    testbed: Testbed, tmp_path: Path
) -> None:
    alpha, beta, gamma, delta = (
        testbed.device(tmp_path, name) for name in ("alpha", "beta", "gamma", "delta")
    )
    share_among([alpha, beta, gamma, delta])
    config_path = Home.resolve(gamma.home).config_path
    save_config(config_path, replace(load_config(config_path), mdns=False))
    alpha.start()
    beta.start(mdns=False)  # --no-mdns, but a static address for alpha
    cli(beta.home, "peer", "add", alpha.id, alpha.address)
    gamma.start()  # mdns = false in its config, and no static peer
    delta.start()  # announced: once alpha sees delta, it had time to see the others
    wait_for(lambda: alpha.connected() == {beta.id, delta.id}, "beta and delta on alpha")
    assert beta.call("status")["mdns"] is False
    assert gamma.call("status")["mdns"] is False
    found_by_beta = {p["device_id"]: p["found_by"] for p in beta.call("peers")["peers"]}
    assert found_by_beta[alpha.id] == "static"
    # beta may still reach delta through the address alpha shares with members (or
    # delta may dial beta there); what beta must never do is find someone by mDNS
    assert "mdns" not in found_by_beta.values(), found_by_beta

    def seen_by_alpha() -> set[str]:
        return {row["device_id"] for row in alpha.call("peers")["discovered"]}

    wait_for(lambda: delta.id in seen_by_alpha(), "alpha to see delta's announcement")
    assert seen_by_alpha() == {delta.id}, "only delta announces itself"
    assert gamma.connected() == set()
    assert beta.call("peers")["discovered"] == []


def test_an_address_change_is_announced_and_followed(testbed: Testbed, tmp_path: Path) -> None:
    alpha, beta = (testbed.device(tmp_path, name) for name in ("alpha", "beta"))
    share_among([alpha, beta])
    alpha.start()
    beta.start(host="0.0.0.0")
    wait_for(lambda: alpha.connected() == {beta.id}, "beta to connect")
    old = beta.host.ip
    beta.host.move_to(f"{SUBNET}.200")

    def announced_at() -> list[str]:
        rows = alpha.call("peers")["discovered"]
        return [a for row in rows if row["device_id"] == beta.id for a in row["addresses"]]

    # The old address stays cached (zeroconf sends no goodbye for it) until its TTL
    # runs out; the new one comes first, and is dialed first.
    wait_for(lambda: announced_at()[:1] == [f"{SUBNET}.200:{PORT}"], "beta's new address")
    assert set(announced_at()) <= {f"{SUBNET}.200:{PORT}", f"{old}:{PORT}"}
    for device in (alpha, beta):
        device.host.drop_connections()  # the old address's connections are dead
    wait_for(lambda: alpha.connected() == {beta.id}, "beta to reconnect at its new address")
    peers = {p["device_id"]: p for p in alpha.call("peers")["peers"]}
    assert peers[beta.id]["address"].startswith(f"{SUBNET}.200:")
