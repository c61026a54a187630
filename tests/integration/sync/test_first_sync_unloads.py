"""After a first sync of many files, the receiving daemon leaves as few docs loaded as
a restart from the index does (issue 19): a first sync loads one doc per file, each
doc leaves memory once the mirror has written its file (``Unloader.release``), and
nothing loads it again to find its file as written; the sender's crowd leaves once
idle (``daemon.residency``). Docs unloaded so still take edits both ways."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from p2psync.daemon.residency import CROWD_DOCS, CROWD_FLOOR, CROWD_IDLE_S, DEFAULT_IDLE_UNLOAD_S
from tests.support.daemons import Device, link, wait_for
from tests.support.manyfiles import (
    DEADLINE_S,
    listed,
    share_status,
    start_with_files,
    tree,
)

UNLOAD_DEADLINE_S = 30.0
"""Well inside the everyday grace (``DEFAULT_IDLE_UNLOAD_S``): docs that leave memory
by then left it because they were a crowd."""
MANY = 2_000
"""Files in the folder: enough that the mirror falls behind the docs stored, so that a
doc left memory before its file was written, or before the watcher's echo of the
write came back."""
RELEASE_DEADLINE_S = 10.0
"""How long the receiver may keep more than ``CROWD_FLOOR`` docs loaded once every
file is written and listed: a few times a crowd's grace (the binary files' docs
loaded for their first version, ``CROWD_IDLE_S``), far below the 60 s grace and the
70 s a 10,000-file first sync took before docs left memory as their files were
written (docs/benchmarks.md)."""
LOADS = re.compile(r"share \S+: doc (.+) loaded$", re.MULTILINE)


def loaded(device: Device) -> int:
    count: int = share_status(device)["docs_loaded"]
    return count


def loads_since(device: Device, mark: int) -> Counter[str]:
    """How many times the daemon of ``device`` loaded each doc since ``mark``
    (``Device.log_mark``), as its debug log says."""
    with (device.home / "daemon.log").open("rb") as file:
        file.seek(mark)
        return Counter(LOADS.findall(file.read().decode(errors="replace")))


def test_the_receiver_unloads_its_docs_after_a_first_sync(pair: tuple[Device, Device]) -> None:
    assert MANY > CROWD_DOCS  # a crowd: without it the 60 s grace would hold them all
    assert 2 * CROWD_IDLE_S < RELEASE_DEADLINE_S < UNLOAD_DEADLINE_S < DEFAULT_IDLE_UNLOAD_S
    alice, bob = pair
    want = start_with_files(alice, [alice, bob], MANY)
    wait_for(lambda: listed(alice) >= MANY, "alice's first scan", DEADLINE_S)
    mark = bob.log_mark()
    bob.start()
    link([alice, bob])
    wait_for(lambda: tree(bob.folder) == want, "every file at bob, byte for byte", DEADLINE_S)
    wait_for(lambda: listed(bob) == MANY, "bob listing every file", DEADLINE_S)
    wait_for(lambda: loaded(bob) <= CROWD_FLOOR, "bob's docs leaving memory", RELEASE_DEADLINE_S)
    loads = loads_since(bob, mark)
    assert len(loads) >= MANY  # each file's doc was loaded at bob, once: none again to
    # find its file as written. Only a binary file's may be loaded again, for its first
    # version, if its doc came before the manifest change naming it.
    binary = sum(name.endswith(".bin") for name in want)
    assert len([guid for guid, times in loads.items() if times > 1]) <= binary
    wait_for(lambda: loaded(alice) <= CROWD_FLOOR, "alice's docs leaving memory", UNLOAD_DEADLINE_S)
    assert share_status(bob)["docs"] == share_status(alice)["docs"] >= MANY
    # Unloaded docs still sync both ways.
    ours, theirs = sorted(name for name in want if name.endswith(".md"))[:2]
    edit(bob.folder / ours, b"bob was here\n")
    edit(alice.folder / theirs, b"alice was here\n")
    wait_for(lambda: holds(alice.folder / ours, b"bob was here\n"), "bob's edit at alice")
    wait_for(lambda: holds(bob.folder / theirs, b"alice was here\n"), "alice's edit at bob")


def edit(path: Path, line: bytes) -> None:
    """A save of ``path`` by a program: ``line`` added at its end."""
    path.write_bytes(path.read_bytes() + line)


def holds(path: Path, line: bytes) -> bool:
    return path.read_bytes().endswith(line)
