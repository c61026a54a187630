"""File history across two real daemons: an edit made on one device is a version on
the other, and a restore there is a new edit that keeps a concurrent one (issue 18)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psync.storage.timeline import char_changes
from tests.integration.sync.daemons import Device, cli, link, make_share, wait_for

FIRST = "title\n\nfirst draft\n\nfooter\n"
SECOND = "title\n\nsecond draft, worse\n\nfooter\n"
CONCURRENT = "title\n\nsecond draft, worse\n\nfooter by alice\n"
MERGED = "title\n\nfirst draft\n\nfooter by alice\n"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[Device]]:
    made = [Device(tmp_path, name) for name in ("alice", "bob")]
    yield made
    for device in made:
        device.stop(signal.SIGKILL)


def _versions(device: Device, name: str) -> list[Any]:
    result = cli(device.home, "history", str(device.folder / name), "--json", check=False)
    if result.returncode != 0:
        return []
    versions: list[Any] = json.loads(result.stdout)["versions"]
    return versions


def _file(device: Device, name: str) -> str | None:
    try:
        return (device.folder / name).read_text()
    except FileNotFoundError:
        return None


def _connected(device: Device) -> list[str]:
    connected: list[str] = device.status()["shares"][0]["peers_connected"]
    return connected


def test_a_version_made_on_a_is_restored_on_b_and_keeps_a_concurrent_edit(
    pair: list[Device], tmp_path: Path
) -> None:
    alice, bob = pair
    make_share(pair)
    for device in pair:
        device.start()
    link(pair)

    (alice.folder / "notes.md").write_text(FIRST)
    wait_for(lambda: _file(bob, "notes.md") == FIRST, "the first draft at bob")
    wait_for(lambda: len(_versions(bob, "notes.md")) == 1, "a version at bob")
    (alice.folder / "notes.md").write_text(SECOND)
    wait_for(lambda: _file(bob, "notes.md") == SECOND, "the second draft at bob")
    wait_for(lambda: len(_versions(bob, "notes.md")) == 2, "two versions at bob")

    newest, oldest = _versions(bob, "notes.md")  # newest first
    assert (oldest["number"], oldest["kind"], oldest["device"]) == (1, "create", alice.id)
    assert oldest["size"] == len(FIRST.encode())
    assert (newest["number"], newest["kind"], newest["device"]) == (2, "remote change", alice.id)
    assert (newest["added"], newest["removed"]) == char_changes(FIRST, SECOND) != (0, 0)
    mine = _versions(alice, "notes.md")
    assert [(v["kind"], v["device"]) for v in mine] == [("local save", alice.id),
                                                        ("create", alice.id)]  # fmt: skip

    diff = cli(bob.home, "history", str(bob.folder / "notes.md"), "--diff", "1").stdout
    assert "-first draft\n" in diff
    assert "+second draft, worse\n" in diff

    out = tmp_path / "first.md"
    written = cli(bob.home, "restore", str(bob.folder / "notes.md"), "--version", "1",
                  "--to", str(out))  # fmt: skip
    assert written.returncode == 0
    assert out.read_text() == FIRST
    assert _file(bob, "notes.md") == SECOND  # --to touches nothing in the share
    assert len(_versions(bob, "notes.md")) == 2

    # Alice edits the footer while cut off from bob; bob restores the first draft.
    cli(alice.home, "pause")
    wait_for(lambda: not _connected(bob), "bob to lose alice")
    (alice.folder / "notes.md").write_text(CONCURRENT)
    wait_for(lambda: alice.text("notes.md") == CONCURRENT, "alice's footer in her doc")
    restored = cli(bob.home, "restore", str(bob.folder / "notes.md"), "--version", "1")
    assert "back to version 1" in restored.stdout
    wait_for(lambda: _file(bob, "notes.md") == FIRST, "the restored file at bob")
    assert _versions(bob, "notes.md")[0]["kind"] == "restore"

    cli(alice.home, "resume")
    link(pair)
    wait_for(lambda: _file(alice, "notes.md") == MERGED, "the restore merged at alice")
    wait_for(lambda: _file(bob, "notes.md") == MERGED, "alice's footer merged at bob")
    assert _versions(alice, "notes.md")[0]["kind"] == "remote change"
    assert _versions(alice, "notes.md")[0]["device"] == bob.id


def test_bad_history_requests_exit_with_one_sentence(pair: list[Device], tmp_path: Path) -> None:
    alice, _ = pair
    make_share([alice])
    alice.start()
    (alice.folder / "notes.md").write_text(FIRST)
    wait_for(lambda: len(_versions(alice, "notes.md")) == 1, "a version at alice")

    missing = cli(alice.home, "restore", str(alice.folder / "notes.md"), "--version", "9",
                  check=False)  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "no version 9" in missing.stderr
    outside = cli(alice.home, "history", str(tmp_path / "elsewhere.md"), check=False)
    assert outside.returncode == 2
    assert "not inside a shared folder" in outside.stderr
    bad = cli(alice.home, "history", str(alice.folder / "notes.md"), "--diff", "x", check=False)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert _file(alice, "notes.md") == FIRST
