"""``wait-idle`` and the share's ``in_sync`` mean the files are on disk: a first sync's
docs arrive well before the mirror has written their files, and a deleted file is
told seconds after it went; until then the share is not in sync and the device is
syncing (``MirrorService.settled``)."""

from __future__ import annotations

from tests.support.daemons import Device, cli, link, wait_for
from tests.support.manyfiles import DEADLINE_S, listed, share_status, start_with_files, tree

MANY = 1_500
"""Enough files that the receiver's mirror is still writing when their docs are in."""


def test_wait_idle_returns_once_every_file_is_written_and_every_delete_told(
    pair: list[Device],
) -> None:
    alice, bob = pair
    want = start_with_files(alice, [alice, bob], MANY)
    wait_for(lambda: listed(alice) >= MANY, "alice's first scan", DEADLINE_S)
    bob.start()
    link([alice, bob])
    for device in (bob, alice):
        waited = cli(device.home, "wait-idle", "--timeout", str(DEADLINE_S), "--quiet")
        assert waited.returncode == 0, waited.stderr
    assert tree(bob.folder) == want  # every file there the moment wait-idle returned
    assert share_status(bob)["in_sync"]
    assert bob.status()["state"] == "up-to-date"
    gone = sorted(want)[:100]
    for name in gone:
        (alice.folder / name).unlink()
    for device in (alice, bob):
        waited = cli(device.home, "wait-idle", "--timeout", str(DEADLINE_S), "--quiet")
        assert waited.returncode == 0, waited.stderr
    assert not [name for name in gone if (bob.folder / name).exists()]
