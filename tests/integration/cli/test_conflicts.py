"""Real daemons: a file created on two devices at once keeps one version as the file
and the other as a conflict copy with a readable name, which ``p2psync conflicts``
and ``status --json`` list (and ``conflicts`` lists with the daemon stopped too)."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from p2psync.ids import DeviceId
from tests.support.daemons import Device, cli, link, make_share, wait_for


def copies(device: Device) -> list[dict[str, Any]]:
    shares = json.loads(cli(device.home, "conflicts", "--json").stdout)["shares"]
    found: list[dict[str, Any]] = next(s for s in shares if s["path"] == str(device.folder))[
        "conflicts"
    ]
    return found


def test_a_file_created_on_two_devices_keeps_a_readable_listed_copy(tmp_path: Path) -> None:
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    make_share([alice, bob])
    for device, text in ((alice, "alice's version\n"), (bob, "bob's version\n")):
        device.folder.mkdir(parents=True, exist_ok=True)
        (device.folder / "plan.md").write_text(text)
    try:
        alice.start()
        bob.start()
        wait_for(lambda: alice.text("plan.md") is not None, "alice's scan")
        wait_for(lambda: bob.text("plan.md") is not None, "bob's scan")
        link([alice, bob])
        wait_for(lambda: bool(copies(alice) or copies(bob)), "a copy kept aside")
        keeper = alice if copies(alice) else bob
        [copy] = copies(keeper)
        assert copy["path"] == "plan.md"
        assert copy["why"] == "collision"
        other = bob if keeper is alice else alice
        kept = keeper.folder / ".p2psync" / "conflicts" / copy["copy"]
        owner = alice if kept.read_text() == "alice's version\n" else bob
        assert kept.read_text() == f"{'alice' if owner is alice else 'bob'}'s version\n"
        assert (other.folder / "plan.md").read_text() != kept.read_text()  # the loser's
        assert copy["device"] == DeviceId.parse(owner.id).short()
        assert copy["copy"].startswith("plan.conflict-")
        assert copy["copy"].endswith(".md")
        share = next(s for s in keeper.status()["shares"] if s["path"] == str(keeper.folder))
        assert share["conflicts"] == [copy]
        human = cli(keeper.home, "conflicts").stdout
        assert "a file created on two devices" in human
        assert "plan.md" in human
        keeper.stop()
        assert copies(keeper) == [copy]  # read from the folder: no daemon needed
    finally:
        for device in (alice, bob):
            device.stop(signal.SIGKILL)
