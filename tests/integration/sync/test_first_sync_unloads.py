"""After a first sync of many files, the receiving daemon leaves as few docs loaded as
a restart from the index does (issue 19): a first sync loads one doc per file, and
once that crowd is idle its docs leave memory (``daemon.residency``)."""

from __future__ import annotations

from p2psync.daemon.residency import CROWD_DOCS, CROWD_FLOOR, DEFAULT_IDLE_UNLOAD_S
from tests.support.daemons import Device, link, wait_for
from tests.support.manyfiles import (
    DEADLINE_S,
    FILES,
    listed,
    share_status,
    start_with_files,
    tree,
)

UNLOAD_DEADLINE_S = 30.0
"""Well inside the everyday grace (``DEFAULT_IDLE_UNLOAD_S``): docs that leave memory
by then left it because they were a crowd."""


def loaded(device: Device) -> int:
    count: int = share_status(device)["docs_loaded"]
    return count


def test_the_receiver_unloads_its_docs_after_a_first_sync(pair: tuple[Device, Device]) -> None:
    assert FILES > CROWD_DOCS  # a crowd: without it the 60 s grace would hold them all
    assert UNLOAD_DEADLINE_S < DEFAULT_IDLE_UNLOAD_S
    alice, bob = pair
    want = start_with_files(alice, [alice, bob])
    wait_for(lambda: listed(alice) >= FILES, "alice's first scan", DEADLINE_S)
    mark = bob.log_mark()
    bob.start()
    link([alice, bob])
    wait_for(lambda: tree(bob.folder) == want, "every file at bob, byte for byte", DEADLINE_S)
    wait_for(lambda: listed(bob) == FILES, "bob listing every file", DEADLINE_S)
    assert len(bob.docs_loaded_since(mark)) >= FILES  # each file's doc was loaded at bob
    wait_for(lambda: loaded(bob) <= CROWD_FLOOR, "bob's docs leaving memory", UNLOAD_DEADLINE_S)
    wait_for(lambda: loaded(alice) <= CROWD_FLOOR, "alice's docs leaving memory", UNLOAD_DEADLINE_S)
    assert share_status(bob)["docs"] == share_status(alice)["docs"] >= FILES
