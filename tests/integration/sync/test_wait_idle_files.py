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


def test_wait_idle_with_no_member_connected_waits_for_the_files_here_and_says_so(
    pair: list[Device],
) -> None:
    """In sync with nobody is not 100%: with no member connected, ``wait-idle`` waits
    until the changes made here are taken in (here a first scan), then says that
    nothing was synced, and exits 0 (what ``--min-peers`` is for)."""
    alice, _ = pair  # bob never runs
    start_with_files(alice, pair, MANY)
    waited = cli(alice.home, "wait-idle", "--timeout", str(DEADLINE_S))
    assert waited.returncode == 0, waited.stderr
    assert listed(alice) == MANY  # the whole folder taken in the moment wait-idle returned
    assert waited.stdout == ""
    assert waited.stderr.strip().splitlines()[-1] == (
        "no member is connected: the changes made here are taken in, nothing was synced"
        " (--min-peers N waits for N members)"
    )
    assert "100%" not in waited.stderr
