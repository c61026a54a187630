"""A real daemon killed (SIGKILL) with a chunked file's patch cut short, started again.

The torn state is made on disk while the daemon is down (the record written, the
tail half replaced, as a crash between the two writes leaves it): a test cannot stop
a real patch at a chosen byte. The daemon that starts must write the doc over the
file and append nothing to its logs (the torn bytes are not a save).
"""

from __future__ import annotations

import hashlib
import os
import signal

import pytest

from p2psync.mirror.fileio import FileStat
from p2psync.mirror.patch import PatchRecord, load_records, write_record
from p2psync.storage.layout import docs_dir, marker_dir
from tests.support.chunkeddaemons import configure
from tests.support.daemons import Device, link, make_share, start_all, wait_for
from tests.support.mirror import holds, live_entries

pytestmark = pytest.mark.slow
REL = "big.txt"


def log_sizes(device: Device) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in docs_dir(device.folder).iterdir()}


@pytest.fixture
def pair(pair: list[Device]) -> tuple[Device, Device]:
    """Alice and bob, chunking at small sizes (``configure``), started and linked."""
    make_share(pair)
    for device in pair:
        configure(device)
    start_all(pair)
    link(pair)
    return pair[0], pair[1]


def test_a_killed_daemon_restarts_over_a_torn_patch_without_a_local_edit(
    pair: tuple[Device, Device],
) -> None:
    alice, bob = pair
    text = "".join(f"line {n:05} 中文 😀\n" for n in range(4_000))
    (alice.folder / REL).write_text(text)
    wait_for(holds(bob.folder / REL, text.encode()), "the large file at bob")
    ino = (bob.folder / REL).stat().st_ino
    edited = text[:-40] + "an edit near the end\n" + text[-40:]
    (alice.folder / REL).write_text(edited)
    data = edited.encode()
    wait_for(holds(bob.folder / REL, data), "the edit at bob")
    assert (bob.folder / REL).stat().st_ino == ino  # patched in place
    # The bytes are in place before the patch's record is removed: the record next.
    wait_for(lambda: load_records(bob.folder) == {}, "the edit's patch record removed")

    bob.stop(signal.SIGKILL)
    [guid] = live_entries(bob, REL)
    offset = data.rindex(b"\n", 0, len(data) - 60) + 1
    before = FileStat.of(os.lstat(bob.folder / REL))
    write_record(bob.folder, PatchRecord(REL, guid, before, offset, len(data),
                                         hashlib.sha256(data).digest()))  # fmt: skip
    with (bob.folder / REL).open("r+b") as file:
        file.seek(offset)
        file.write(b"torn")
        file.truncate(offset + 4)
    logs = log_sizes(bob)

    bob.start()
    wait_for(holds(bob.folder / REL, data), "bob's file written again from its doc")
    wait_for(lambda: load_records(bob.folder) == {}, "the patch record removed")
    assert log_sizes(bob) == logs  # nothing of the torn file became an edit
    assert not list(marker_dir(bob.folder).glob("conflicts/**/*big*"))
    assert (alice.folder / REL).read_bytes() == data
