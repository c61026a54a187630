"""Real daemons: a file renamed while its device's daemon was down.

The restarted daemon's first look at the folder pairs the vanished path with the new
one; the rename reaches the peer as a rename, the old name comes back on neither
device, a peer's edit made meanwhile ends up in the renamed file, and the file's
history says it was renamed. Also when the device's ``.p2psync`` had been lost
before and its folder taken in again as new docs (twins of the peer's).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import Any

from p2psync.mirror.conflicts import list_copies
from tests.support.daemons import Device, cli, link, wait_for
from tests.support.mirror import read

OLD, NEW = "notes.txt", "renamed.txt"
TEXT = "one\ntwo\nthree\n"
EDITED = TEXT + "four\n"


def renamed_on(device: Device) -> Callable[[], bool]:
    """Whether ``device``'s folder holds the peer's edit at the new name, and no old name."""
    return lambda: (
        read(device.folder / NEW) == EDITED.encode() and not (device.folder / OLD).exists()
    )


def versions(device: Device, name: str) -> list[dict[str, Any]]:
    out = cli(device.home, "history", str(device.folder / name), "--json").stdout
    found: list[dict[str, Any]] = json.loads(out)["versions"]
    return found


def settle(*devices: Device) -> None:
    for device in devices:
        cli(device.home, "wait-idle", "--timeout", "30")


def rename_while_down(alice: Device, bob: Device) -> None:
    """Bob's daemon is down: alice edits the file, bob's user renames it; then bob
    starts and the two link again."""
    (alice.folder / OLD).write_text(EDITED)
    (bob.folder / OLD).rename(bob.folder / NEW)
    bob.start()
    link([alice, bob])
    wait_for(renamed_on(bob), "the renamed file with alice's edit at bob")
    wait_for(renamed_on(alice), "the renamed file with bob's rename at alice")
    settle(alice, bob)
    for device in (alice, bob):
        assert renamed_on(device)(), device.home.name


def test_a_rename_made_while_down_reaches_the_peer_with_its_edit_and_history(
    share_of: Callable[..., list[Device]],
) -> None:
    alice, bob = share_of("alice", "bob")
    (alice.folder / OLD).write_text(TEXT)
    wait_for(lambda: read(bob.folder / OLD) == TEXT.encode(), "the file at bob")
    settle(alice, bob)
    bob.stop()
    rename_while_down(alice, bob)
    for device in (alice, bob):
        kinds = [(v["kind"], v.get("old_path")) for v in versions(device, NEW)]
        assert ("rename", OLD) in kinds, (device.home.name, kinds)


def test_a_rename_made_while_down_after_the_folder_was_taken_in_again_is_one_file(
    share_of: Callable[..., list[Device]],
) -> None:
    """Bob lost his ``.p2psync`` and took his folder in again while alice was away:
    his file became a second doc (created after alice's, at the same path), which
    he renamed before the two met. It is one file with alice's, renamed."""
    alice, bob = share_of("alice", "bob")
    (alice.folder / OLD).write_text(TEXT)
    wait_for(lambda: read(bob.folder / OLD) == TEXT.encode(), "the file at bob")
    settle(alice, bob)
    alice.stop()
    bob.stop()
    shutil.rmtree(bob.folder / ".p2psync")
    (bob.folder / ".p2psync").mkdir()
    bob.start()
    wait_for(lambda: _files(bob) == 1, "bob taking his folder in again")
    bob.stop()
    alice.start()
    rename_while_down(alice, bob)
    for device in (alice, bob):  # bob's copy held nothing alice's file lacks
        assert list_copies(device.folder) == [], device.home.name


def _files(device: Device) -> int:
    """The files of ``device``'s share, once its folder was looked at (settled)."""
    share = next(s for s in device.status()["shares"] if s["path"] == str(device.folder))
    return int(share["files"]) if share["settled"] else -1
