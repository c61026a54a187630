"""Real daemons: a file the share cannot sync is listed as not in sync, with why, in
``status`` (human and JSON); the share and the device are not "in sync" meanwhile,
and the listing clears once the file can be synced again."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Any

from p2psync.daemon.indexkeeper import SAVE_INTERVAL_S
from tests.support.daemons import Device, cli, link, wait_for
from tests.support.unwritable import unwritable


def share_of(device: Device) -> dict[str, Any]:
    shares: list[dict[str, Any]] = device.status()["shares"]
    return next(s for s in shares if s["path"] == str(device.folder))


def listed(device: Device) -> dict[str, Any]:
    """The device's share as ``status`` lists it, or {} while it is not listed (a share
    starting again is missing for a moment)."""
    shares: list[dict[str, Any]] = device.status()["shares"]
    return next((s for s in shares if s["path"] == str(device.folder)), {})


def peer_row(device: Device, other: Device) -> dict[str, Any]:
    """What ``peers --json`` on ``device`` says of ``other``."""
    peers: list[dict[str, Any]] = json.loads(cli(device.home, "peers", "--json").stdout)["peers"]
    return next(p for p in peers if p["device_id"] == other.id)


def resumed(device: Device) -> bool:
    """Whether the device's share runs again and is in sync (while it starts again it
    may be missing from the status for a moment)."""
    shares: list[dict[str, Any]] = device.status()["shares"]
    share = next((s for s in shares if s["path"] == str(device.folder)), None)
    return share is not None and not share.get("stopped") and bool(share["in_sync"])


def test_a_text_file_made_binary_is_listed_not_in_sync_until_it_is_text_again(
    linked_pair: tuple[Device, Device],
) -> None:
    alice, bob = linked_pair
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
    linked_pair: tuple[Device, Device],
) -> None:
    alice, bob = linked_pair
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


def remove_tree(path: Path) -> None:
    """``rm -r`` of a folder the daemon may be writing into until it notices: a log
    created in ``.p2psync/docs`` during the walk makes it fail with "Directory not
    empty", and the user runs it again. Fails if the folder keeps coming back."""

    def gone() -> bool:
        shutil.rmtree(path, ignore_errors=True)
        return not path.exists()

    wait_for(gone, f"{path} removed")


def test_a_share_folder_deleted_stops_the_share_says_why_once_and_keeps_its_peer_connected(
    linked_pair: tuple[Device, Device],
) -> None:
    alice, bob = linked_pair
    (alice.folder / "kept.md").write_text("kept\n")
    wait_for((bob.folder / "kept.md").is_file, "kept.md at bob")
    remove_tree(alice.folder)  # rm -r, not a move
    wait_for(lambda: "stopped" in listed(alice), "the share stopped", 10)
    stopped_at = time.time()
    share = listed(alice)
    assert "no .p2psync marker any more" in share["stopped"]
    assert not share["in_sync"]
    assert [m["state"] for m in share["members"]] == ["stopped"]
    assert alice.status()["state"] == "not-in-sync"

    # Bob connects again while the folder is gone, and goes on editing: alice hears
    # from him for longer than a few of the index keeper's save intervals.
    bob.stop()
    bob.start()
    link([alice, bob])
    wait_for(lambda: (peer_row(alice, bob)["connected_since"] or 0) > stopped_at,
             "bob connected to alice again")  # fmt: skip
    edits = itertools.count()

    def heard_from_bob_a_while() -> bool:
        (bob.folder / "after.md").write_text(f"edit {next(edits)}\n")
        return bool(peer_row(alice, bob)["last_seen"] > stopped_at + 3 * SAVE_INTERVAL_S)

    wait_for(heard_from_bob_a_while, "alice hearing from bob after the folder went", 60)

    assert peer_row(alice, bob)["connected"]
    share = listed(alice)
    assert "no .p2psync marker any more" in share.get("stopped", "")
    assert [m["state"] for m in share["members"]] == ["stopped"]  # not "offline"
    human = cli(alice.home, "status").stdout
    assert "1 connected" in human
    assert "stopped (see below)" in human
    assert "no member connected" not in human
    errors = [
        line
        for line in (alice.home / "daemon.log").read_text().splitlines()
        if "cannot write the index" in line and " DEBUG " not in line
    ]
    assert len(errors) <= 1  # said once, not every few seconds
    assert (bob.folder / "kept.md").read_text() == "kept\n"  # nothing read as deleted
    assert not alice.folder.exists()  # and nothing made the folder again


def test_a_file_that_could_not_be_written_leaves_the_listing_once_a_peer_deletes_it(
    linked_pair: tuple[Device, Device],
) -> None:
    """A peer's file this device cannot write is listed not in sync; once the peer
    deletes it, no file is left to sync and the listing clears (nothing on this
    device looks at that path again by itself)."""
    alice, bob = linked_pair
    share = share_of(bob)["id"]
    (bob.folder / "locked").mkdir()
    with unwritable(bob.folder / "locked"):
        (alice.folder / "locked").mkdir()
        (alice.folder / "locked" / "x.md").write_text("cannot land at bob\n")
        wait_for(lambda: [p["path"] for p in share_of(bob)["not_in_sync"]] == ["locked/x.md"],
                 "the file bob cannot write listed")  # fmt: skip
        assert not share_of(bob)["in_sync"]
        (alice.folder / "locked" / "x.md").unlink()
        wait_for(
            lambda: (
                [f["path"] for f in bob.ask("history.deleted", share=share)["files"]]
                == ["locked/x.md"]
            ),
            "the deletion at bob",
        )
        wait_for(lambda: not share_of(bob)["not_in_sync"], "bob's listing cleared")
        wait_for(lambda: share_of(bob)["in_sync"], "bob in sync")
        assert "Not in sync:" not in cli(bob.home, "status").stdout
    assert not (bob.folder / "locked" / "x.md").exists()
