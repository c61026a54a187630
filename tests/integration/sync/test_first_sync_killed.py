"""A daemon killed (SIGKILL) in the middle of a first scan or a first sync of many files
loses nothing and resumes: every file ends up in the share once, byte-identical on
both sides, with no conflict copy. New files are taken in as groups (one commit for
many docs), so a kill lands inside a group more often than not."""

from __future__ import annotations

import signal

from p2psync.storage.doclog import GROUP_SYNC_THREADS
from p2psync.storage.layout import marker_dir
from tests.support.daemons import Device, link, wait_for
from tests.support.manyfiles import DEADLINE_S, FILES, listed, start_with_files, tree

IN_FLIGHT = 16 + GROUP_SYNC_THREADS
"""Docs a restart may load besides those still to come: the manifest, the ignore
file's, a file whose write a kill cut short; and of a group of new files being
written (``mirror.newwrites``, ``GROUP_SYNC_THREADS`` at once), each in place whose
record was written ahead and not yet committed: the restart keeps that record and
applies its base to its doc once, loading it."""


def logs_made(device: Device) -> int:
    docs = marker_dir(device.folder) / "docs"
    return sum(1 for path in docs.glob("*") if path.is_file()) if docs.is_dir() else 0


def no_conflict_copies(device: Device) -> bool:
    copies = marker_dir(device.folder) / "conflicts"
    return not copies.is_dir() or not any(path.is_file() for path in copies.rglob("*"))


def test_a_daemon_killed_during_its_first_scan_takes_every_file_in_once(
    pair: tuple[Device, Device],
) -> None:
    alice, _ = pair
    want = start_with_files(alice, [alice])
    wait_for(lambda: logs_made(alice) >= FILES // 10, "alice's first docs", DEADLINE_S)
    alice.stop(signal.SIGKILL)
    assert listed_after_restart(alice) == FILES
    assert tree(alice.folder) == want
    assert no_conflict_copies(alice)


def listed_after_restart(device: Device) -> int:
    device.start()
    wait_for(lambda: listed(device) >= FILES, "every file listed", DEADLINE_S)
    return listed(device)


def test_a_daemon_killed_during_its_first_sync_resumes_and_every_file_arrives(
    pair: tuple[Device, Device],
) -> None:
    alice, bob = pair
    want = start_with_files(alice, [alice, bob])
    wait_for(lambda: listed(alice) >= FILES, "alice's first scan", DEADLINE_S)
    bob.start()
    link([alice, bob])
    wait_for(lambda: len(tree(bob.folder)) >= FILES // 10, "bob's first files", DEADLINE_S)
    bob.stop(signal.SIGKILL)
    arrived = len(tree(bob.folder))
    assert arrived < FILES, "the first sync ended before the kill: nothing was cut short"
    done = sum(1 for path, data in tree(bob.folder).items() if want.get(path) == data)

    mark = bob.log_mark()
    bob.start()
    link([alice, bob])
    wait_for(lambda: tree(bob.folder) == want, "every file at bob, byte for byte", DEADLINE_S)
    wait_for(lambda: listed(bob) == FILES, "bob listing every file once", DEADLINE_S)
    # It resumed where it stopped: a file already written whole had its doc stored
    # first, so that doc is not sent (nor loaded) again; only the rest is.
    again = bob.docs_loaded_since(mark)
    assert len(again) <= FILES - done + IN_FLIGHT, (len(again), done)
    assert tree(alice.folder) == want
    assert listed(alice) == FILES
    assert no_conflict_copies(alice)
    assert no_conflict_copies(bob)
