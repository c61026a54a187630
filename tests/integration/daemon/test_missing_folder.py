"""Real daemons: a share whose folder or ``.p2psync`` marker is missing when the
daemon starts (the folder moved away while it was stopped, a disk not mounted under
its mount point) is not started, and nothing is created there: ``status`` shows it
stopped with why, an error event says so, and it starts by itself once the folder
with its marker is back. A share written into ``config.toml`` by hand and never
started is still made on its first start; one whose path is a file is stopped with
one sentence, and the daemon and the other shares run on."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from p2psync.ids import ShareId
from p2psync.storage.layout import marker_dir
from tests.support.daemons import Device, cli, link, setup, wait_for


def listed(device: Device, path: Path) -> dict[str, Any]:
    """The share at ``path`` as ``status`` lists it, or {} while it is not listed."""
    shares: list[dict[str, Any]] = device.status()["shares"]
    return next((s for s in shares if s["path"] == str(path)), {})


def resumed(device: Device) -> bool:
    share = listed(device, device.folder)
    return bool(share) and not share.get("stopped") and bool(share["in_sync"])


def error_said(device: Device, words: str) -> bool:
    """Whether an error event of the device's share says ``words``."""
    errors = listed(device, device.folder)["errors"]
    return any(words in e.get("message", "") for e in errors)


def stopped_after_a_sync(pair: tuple[Device, Device]) -> tuple[Device, Device]:
    """The pair once bob's kept.md reached alice, alice's daemon stopped."""
    alice, bob = pair
    (bob.folder / "kept.md").write_text("kept\n")
    wait_for((alice.folder / "kept.md").is_file, "kept.md at alice")
    alice.stop()
    return alice, bob


def test_a_share_folder_moved_away_while_stopped_is_not_made_again_and_resumes_once_back(
    linked_pair: tuple[Device, Device],
) -> None:
    alice, bob = stopped_after_a_sync(linked_pair)
    away = alice.folder.with_name("moved-away")
    alice.folder.rename(away)
    alice.start()
    link([alice, bob])
    wait_for(lambda: "stopped" in listed(alice, alice.folder), "the share shown stopped")
    share = listed(alice, alice.folder)
    assert "is missing" in share["stopped"]
    assert [m["state"] for m in share["members"]] == ["stopped"]
    assert alice.status()["state"] == "not-in-sync"
    assert error_said(alice, "is missing")
    wait_for(lambda: alice.id in bob.status()["connected"], "alice connected to bob")
    assert not alice.folder.exists()  # nothing made, nothing downloaded
    (away / "while-away.md").write_text("written while away\n")
    away.rename(alice.folder)
    wait_for(lambda: resumed(alice), "the share running again once its folder is back")
    wait_for((bob.folder / "while-away.md").is_file, "the file written while away")
    assert (bob.folder / "kept.md").read_text() == "kept\n"  # nothing read as deleted


def test_an_empty_folder_at_start_like_an_unmounted_disk_stays_empty(
    linked_pair: tuple[Device, Device],
) -> None:
    alice, bob = stopped_after_a_sync(linked_pair)
    disk = alice.folder.with_name("disk")
    alice.folder.rename(disk)
    alice.folder.mkdir()  # the mount point, the disk not mounted
    alice.start()
    link([alice, bob])
    wait_for(lambda: "stopped" in listed(alice, alice.folder), "the share shown stopped")
    assert "not a p2psync share folder any more" in listed(alice, alice.folder)["stopped"]
    assert error_said(alice, "not a p2psync share folder any more")
    wait_for(lambda: alice.id in bob.status()["connected"], "alice connected to bob")
    assert list(alice.folder.iterdir()) == []  # no marker made, no file written
    alice.folder.rmdir()
    disk.rename(alice.folder)  # mounted
    wait_for(lambda: resumed(alice), "the share running again once the disk is back")
    assert (alice.folder / "kept.md").read_text() == "kept\n"


def test_a_share_added_but_never_started_whose_folder_went_is_not_made_again(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, "a")
    setup(device.home, "share", "add", str(device.folder), "--create")
    assert marker_dir(device.folder).is_dir()  # share add makes the marker itself
    device.folder.rename(tmp_path / "elsewhere")
    device.start()
    try:
        wait_for(lambda: "stopped" in listed(device, device.folder), "the share shown stopped")
        assert "is missing" in listed(device, device.folder)["stopped"]
        assert not device.folder.exists()
        human = cli(device.home, "status").stdout
        assert "stopped (see below)" in human
        assert "is missing" in human
    finally:
        device.stop()


def test_a_hand_written_share_is_made_on_its_first_start_and_a_file_as_path_stops_only_its_share(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, "a")
    setup(device.home, "share", "add", str(device.folder), "--create")
    made = tmp_path / "by-hand" / "notes"
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    config_path = device.home / "config.toml"
    config = tomllib.loads(config_path.read_text())
    config["shares"] += [
        {"id": str(ShareId.new()), "path": str(made)},
        {"id": str(ShareId.new()), "path": str(a_file)},
    ]
    config_path.write_text(tomli_w.dumps(config))
    device.start()  # fails here if the daemon exits
    try:
        wait_for(lambda: "stopped" in listed(device, a_file), "the file's share shown stopped")
        assert "is a file, not a folder" in listed(device, a_file)["stopped"]
        assert a_file.read_text() == "not a folder\n"
        assert marker_dir(made).is_dir()  # never started: made on its first start
        assert not listed(device, made).get("stopped")
        (device.folder / "a.md").write_text("a\n")
        wait_for(lambda: listed(device, device.folder)["files"] == 1, "the other share running")
        log = (device.home / "daemon.log").read_text()
        assert "Traceback" not in log
    finally:
        device.stop()


def test_in_a_home_from_before_the_records_a_share_that_ran_is_not_made_again(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, "a")
    setup(device.home, "share", "add", str(device.folder), "--create")
    device.start()
    wait_for((device.home / "state" / "members").is_dir, "the member map written")
    device.stop()
    shutil.rmtree(device.home / "state" / "shares", ignore_errors=True)  # as before records
    device.folder.rename(tmp_path / "elsewhere")
    device.start()
    try:
        wait_for(lambda: "stopped" in listed(device, device.folder), "the share shown stopped")
        assert "is missing" in listed(device, device.folder)["stopped"]
        assert not device.folder.exists()
    finally:
        device.stop()


def test_a_second_daemon_on_one_share_folder_is_refused_that_share(
    linked_pair: tuple[Device, Device], tmp_path: Path
) -> None:
    # Another home on this machine adds alice's running share folder under the share's
    # ID: two daemons writing one .p2psync would damage it, so the second one holds
    # that share stopped, says why, and leaves the folder to the first.
    alice, _ = linked_pair
    share = listed(alice, alice.folder)["id"]
    (alice.folder / "mine.md").write_text("alice's\n")
    wait_for(lambda: alice.status()["state"] == "up-to-date", "alice taking in mine.md")
    other = Device(tmp_path, "carol")
    setup(other.home, "share", "add", str(alice.folder), "--id", share)
    other.start()
    try:
        wait_for(lambda: "stopped" in listed(other, alice.folder), "carol's share stopped")
        assert "another p2psync daemon" in listed(other, alice.folder)["stopped"]
        assert not listed(alice, alice.folder).get("stopped")
        (alice.folder / "mine.md").write_text("alice's, again\n")
        wait_for(lambda: alice.text("mine.md") == "alice's, again\n", "alice's daemon at work")
    finally:
        other.stop()
    alice.stop()
    other.start()  # the folder's lock went with alice's daemon
    running = listed(other, alice.folder)
    assert running
    assert not running.get("stopped")
