"""Whole folders: restarts, re-adding, joining with the same files, 1,000 files."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from tests.support.daemons import Device, link, setup, wait_for
from tests.support.mirror import live_entries, read

Share = Callable[..., list[Device]]


def holds(device: Device, rel: str, data: bytes) -> bool:
    return read(device.folder / rel) == data


def test_restart_and_re_add_do_not_duplicate_content(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob")
    (alice.folder / "notes.md").write_text("one copy\n")
    wait_for(lambda: read(bob.folder / "notes.md") == b"one copy\n", "the file at bob")
    share = alice.status()["shares"][-1]["id"]
    alice.stop()
    bob.stop()
    setup(bob.home, "share", "remove", share)
    setup(bob.home, "share", "add", str(bob.folder), "--id", share, "--create")
    setup(bob.home, "share", "member", "add", share, alice.id)
    alice.start()
    bob.start()
    link([alice, bob])
    wait_for(lambda: bob.text("notes.md") == "one copy\n", "bob's doc after the re-add")
    (alice.folder / "notes.md").write_text("one copy\nand a second line\n")
    wanted = b"one copy\nand a second line\n"
    wait_for(lambda: read(bob.folder / "notes.md") == wanted, "the edit after the restarts")
    assert bob.text("notes.md") == wanted.decode()
    assert alice.text("notes.md") == wanted.decode()
    assert len(live_entries(alice, "notes.md")) == 1


def test_a_second_machine_with_the_same_files_joins_without_doubling(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob", start=False)
    for device in (alice, bob):
        device.folder.mkdir(parents=True, exist_ok=True)
        (device.folder / "same.md").write_text("identical on both\n")
    (alice.folder / "differs.md").write_text("alice's history\n")
    (bob.folder / "differs.md").write_text("bob's history\n")
    alice.start()
    wait_for(lambda: alice.text("same.md") == "identical on both\n", "alice's scan")
    bob.start()
    wait_for(lambda: bob.text("same.md") == "identical on both\n", "bob's scan")
    link([alice, bob])
    # The file created first (alice's) is the file; bob's own version is kept aside.
    wait_for(lambda: read(bob.folder / "differs.md") == b"alice's history\n", "one differs.md")
    kept = list((bob.folder / ".p2psync" / "conflicts").glob("differs.conflict-*-collision-*.md"))
    assert [k.read_bytes() for k in kept] == [b"bob's history\n"]
    assert read(bob.folder / "same.md") == b"identical on both\n"
    assert read(alice.folder / "same.md") == b"identical on both\n"
    wait_for(lambda: len(live_entries(bob, "same.md")) == 1, "one entry of same.md")
    assert "was created on two devices" in (bob.home / "daemon.log").read_text()


def test_a_version_of_the_same_file_made_on_two_devices_is_merged_not_kept_aside(
    share_of: Share,
) -> None:
    """The loser of a path created on two devices, when it is mostly the winner's
    lines (a save that became a second doc), has its own lines merged into the file
    by the device that made it: every device gets them, not only a conflict copy."""
    alice, bob = share_of("alice", "bob", start=False)
    lines = "".join(f"line {i}\n" for i in range(8))
    for device, text in ((alice, lines + "alice's end\n"), (bob, "bob's top\n" + lines)):
        device.folder.mkdir(parents=True, exist_ok=True)
        (device.folder / "plan.md").write_text(text)
    alice.start()
    wait_for(lambda: alice.text("plan.md") is not None, "alice's scan")
    bob.start()
    wait_for(lambda: bob.text("plan.md") is not None, "bob's scan")
    link([alice, bob])
    merged = "bob's top\n" + lines + "alice's end\n"
    for device in (alice, bob):
        wait_for(partial(holds, device, "plan.md", merged.encode()), "the merge")
    wait_for(lambda: all(len(live_entries(d, "plan.md")) == 1 for d in (alice, bob)),
             "one entry on each")  # fmt: skip
    assert "its lines are merged into the file" in (bob.home / "daemon.log").read_text()
    assert "its lines are merged" not in (alice.home / "daemon.log").read_text()


@pytest.mark.slow
def test_a_thousand_files_reach_an_empty_peer(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob", start=False)
    files = {
        f"dir{i % 10}/file{i}.txt": f"content of file {i}\n" * (i % 7 + 1) for i in range(1000)
    }
    for rel, text in files.items():
        path = alice.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    alice.start()
    bob.start()
    link([alice, bob])

    def all_there() -> bool:
        return all(read(bob.folder / rel) == text.encode() for rel, text in files.items())

    wait_for(all_there, "all 1,000 files at bob", 180)
    on_disk = {p.relative_to(bob.folder).as_posix() for p in bob.folder.rglob("*") if p.is_file()}
    assert {p for p in on_disk if not p.startswith(".p2psync/")} == set(files)
