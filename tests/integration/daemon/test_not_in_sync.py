"""Real daemons: a file the share cannot sync is listed as not in sync, with why, in
``status`` (human and JSON); the share and the device are not "in sync" meanwhile,
and the listing clears once the file can be synced again."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.sync.daemons import Device, cli, link, make_share, wait_for


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Device, Device]]:
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    make_share([alice, bob])
    try:
        alice.start()
        bob.start()
        link([alice, bob])
        yield alice, bob
    finally:
        for device in (alice, bob):
            device.stop(signal.SIGKILL)


def share_of(device: Device) -> dict[str, Any]:
    shares: list[dict[str, Any]] = device.status()["shares"]
    return next(s for s in shares if s["path"] == str(device.folder))


def resumed(device: Device) -> bool:
    """Whether the device's share runs again and is in sync (while it starts again it
    may be missing from the status for a moment)."""
    shares: list[dict[str, Any]] = device.status()["shares"]
    share = next((s for s in shares if s["path"] == str(device.folder)), None)
    return share is not None and not share.get("stopped") and bool(share["in_sync"])


def test_a_text_file_made_binary_is_listed_not_in_sync_until_it_is_text_again(
    pair: tuple[Device, Device],
) -> None:
    alice, bob = pair
    (alice.folder / "notes.md").write_text("first line\n")
    wait_for((bob.folder / "notes.md").is_file, "notes.md at bob")
    wait_for(lambda: share_of(alice)["in_sync"], "alice in sync")
    (alice.folder / "notes.md").write_bytes(b"first line\n\xff\n")
    wait_for(lambda: share_of(alice)["not_in_sync"], "the binary file listed")
    [problem] = share_of(alice)["not_in_sync"]
    assert problem["path"] == "notes.md"
    assert problem["kind"] == "file-skipped"
    assert "binary" in problem["reason"]
    assert not share_of(alice)["in_sync"]
    assert alice.status()["state"] == "not-in-sync"
    human = cli(alice.home, "status").stdout
    assert "Not in sync:" in human
    assert "notes.md: a text file became binary" in human
    assert (bob.folder / "notes.md").read_text() == "first line\n"  # not sent
    (alice.folder / "notes.md").write_text("first line\nsecond line\n")
    wait_for(lambda: not share_of(alice)["not_in_sync"], "the listing cleared")
    wait_for(
        lambda: (bob.folder / "notes.md").read_text() == "first line\nsecond line\n",
        "the text again at bob",
    )
    wait_for(lambda: alice.status()["state"] == "up-to-date", "alice up to date")


def test_a_share_folder_moved_away_stops_the_share_at_once_and_says_why(
    pair: tuple[Device, Device],
) -> None:
    alice, bob = pair
    (alice.folder / "kept.md").write_text("kept\n")
    wait_for((bob.folder / "kept.md").is_file, "kept.md at bob")
    away = alice.folder.with_name("moved-away")
    alice.folder.rename(away)
    wait_for(lambda: "stopped" in share_of(alice), "the share stopped", 5)
    share = share_of(alice)
    assert "no .p2psync marker any more" in share["stopped"]
    assert not share["in_sync"]
    assert [m["state"] for m in share["members"]] == ["stopped"]
    assert alice.status()["state"] == "not-in-sync"
    assert "stopped (see below)" in cli(alice.home, "status").stdout
    errors = [
        line
        for line in (alice.home / "daemon.log").read_text().splitlines()
        if "ERROR" in line and "cannot write the index" in line
    ]
    assert len(errors) <= 1  # said once, not every few seconds
    assert (bob.folder / "kept.md").read_text() == "kept\n"  # nothing read as deleted
    (away / "while-away.md").write_text("written while away\n")
    away.rename(alice.folder)  # moved back: the share resumes, no restart needed
    wait_for(lambda: resumed(alice), "the share back in sync once its folder is back")
    wait_for((bob.folder / "while-away.md").is_file, "the file written while away")
    assert (bob.folder / "kept.md").read_text() == "kept\n"
