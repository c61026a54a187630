"""Renames in the file history, across two real daemons (issue 18): a renamed file's
timeline goes on under its new name, with a ``rename`` version naming the old path,
on the device that renamed it and on the peer that followed."""

from __future__ import annotations

from tests.support.daemons import Device, cli, wait_for
from tests.support.history import FIRST, SECOND, started_with
from tests.support.history import file_text as _file
from tests.support.history import versions as _versions


def test_a_renamed_files_history_continues_under_its_new_name(pair: list[Device]) -> None:
    alice, bob = pair
    started_with(pair, "draft.md", FIRST.encode())
    wait_for(lambda: len(_versions(bob, "draft.md")) == 1, "the first version at bob")
    (alice.folder / "draft.md").write_text(SECOND)
    wait_for(lambda: len(_versions(bob, "draft.md")) == 2, "the second version at bob")
    (alice.folder / "notes").mkdir()
    (alice.folder / "draft.md").rename(alice.folder / "notes" / "final.md")
    wait_for(lambda: _file(bob, "notes/final.md") == SECOND, "the rename at bob")

    for device in pair:
        wait_for(lambda d=device: len(_versions(d, "notes/final.md")) == 3,  # type: ignore[misc]
                 f"the rename in {device.home.name}'s history")  # fmt: skip
        newest = _versions(device, "notes/final.md")[0]
        assert (newest["number"], newest["kind"], newest["old_path"]) == (3, "rename", "draft.md")
        assert (newest["device"], newest["added"], newest["removed"]) == (alice.id, 0, 0)
        assert newest["size"] == len(SECOND.encode())
        shown = cli(device.home, "history", str(device.folder / "notes" / "final.md")).stdout
        assert "renamed from draft.md" in shown
    assert "old_path" not in _versions(bob, "notes/final.md")[1]

    # The versions from before the rename restore under the new name.
    cli(bob.home, "restore", str(bob.folder / "notes" / "final.md"), "--version", "1")
    wait_for(lambda: _file(alice, "notes/final.md") == FIRST, "the restore at alice")
