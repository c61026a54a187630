"""Case-only renames between real daemons; case collisions reaching a daemon whose
share folder is case-insensitive (a ``casefold_fs`` FUSE mount)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2psync.mirror.conflicts import copy_name
from tests.integration.mirror.casefold_mount import casefold_folder
from tests.support.daemons import Device, wait_for
from tests.support.mirror import holds, live_entries, read

Share = Callable[..., list[Device]]


def names(folder: Path) -> list[str]:
    """The names in ``folder`` as the filesystem spells them."""
    return sorted(p.name for p in folder.iterdir() if p.name != ".p2psync")


def renamed(device: Device, old: str, new: str, data: bytes) -> Callable[[], bool]:
    """A condition: ``device`` holds ``data`` under the spelling ``new`` only, and its
    manifest has the one entry, at ``new``."""
    folder = device.folder / new.rpartition("/")[0]
    name = new.rpartition("/")[2]

    def done() -> bool:
        spelled = name in names(folder) and old.rpartition("/")[2] not in names(folder)
        return spelled and read(device.folder / new) == data and live_entries(device, old) == []

    return done


def test_a_case_only_rename_is_a_rename_of_the_same_doc_on_both_sides(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob")
    (alice.folder / "notes.md").write_text("notes\n")
    wait_for(holds(bob.folder / "notes.md", b"notes\n"), "notes.md at bob")
    [guid] = live_entries(alice, "notes.md")
    (alice.folder / "notes.md").rename(alice.folder / "Notes.md")
    wait_for(renamed(bob, "notes.md", "Notes.md", b"notes\n"), "the case-only rename at bob")
    (bob.folder / "Notes.md").rename(bob.folder / "NOTES.md")
    wait_for(renamed(alice, "Notes.md", "NOTES.md", b"notes\n"), "bob's rename at alice")
    for device in (alice, bob):
        assert live_entries(device, "NOTES.md") == [guid]
        assert names(device.folder) == ["NOTES.md"]


@pytest.fixture
def bob_casefold(tmp_path: Path) -> Iterator[Path]:
    """Bob's share folder, case-insensitive; unmounted after his daemon stopped (this
    fixture must come before ``share_of`` in a test's arguments)."""
    with casefold_folder(tmp_path / "bob-backing", tmp_path / "bob-share") as mounted:
        yield mounted


def test_a_case_insensitive_peer_writes_colliding_paths_once_and_changes_no_entry(
    bob_casefold: Path, share_of: Share
) -> None:
    alice, bob = share_of("alice", "bob")
    assert [s["filenames"] for s in bob.status()["shares"]][-1] == "case-insensitive"
    assert [s["filenames"] for s in alice.status()["shares"]][-1] == "case-sensitive"
    (alice.folder / "readme.md").write_text("first\n")
    wait_for(holds(bob.folder / "readme.md", b"first\n"), "readme.md at bob")
    (alice.folder / "README.md").write_text("second\n")
    wait_for(lambda: live_entries(alice, "README.md") != [], "README.md's entry at alice")
    [second] = live_entries(alice, "README.md")
    hidden = bob.folder / ".p2psync" / "conflicts" / copy_name("README.md", "case", second, None)
    wait_for(holds(hidden, b"second\n"), "the later entry kept aside at bob")
    (alice.folder / "Docs").mkdir()
    (alice.folder / "Docs" / "a.md").write_text("a\n")
    wait_for(holds(bob.folder / "Docs" / "a.md", b"a\n"), "Docs/a.md at bob")
    (alice.folder / "docs").mkdir()
    (alice.folder / "docs" / "b.md").write_text("b\n")
    wait_for(holds(bob.folder / "docs" / "b.md", b"b\n"), "docs/b.md at bob")
    assert names(bob.folder) == ["Docs", "readme.md"]
    assert names(bob.folder / "Docs") == ["a.md", "b.md"]
    assert read(bob.folder / "readme.md") == b"first\n"
    # The case-sensitive side keeps every file; nobody's manifest moved or retired one.
    assert names(alice.folder) == ["Docs", "README.md", "docs", "readme.md"]
    for device in (alice, bob):
        for path in ("readme.md", "README.md", "Docs/a.md", "docs/b.md"):
            assert len(live_entries(device, path)) == 1, (device.home.name, path)
    # A case-only rename made on the case-insensitive side reaches the other.
    (bob.folder / "Docs" / "a.md").rename(bob.folder / "Docs" / "A.md")
    wait_for(renamed(alice, "Docs/a.md", "Docs/A.md", b"a\n"), "bob's rename at alice")
    # Once the winner is gone, the hidden entry gets the file.
    (alice.folder / "readme.md").unlink()
    wait_for(lambda: names(bob.folder) == ["Docs", "README.md"], "README.md at bob")
    assert read(bob.folder / "README.md") == b"second\n"
