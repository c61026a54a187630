"""A file that another program writes in parts reaches its doc whole, never in between.

A real daemon watches the share. The writers pause between their writes on purpose
(that is the case under test, far longer than the watcher's 20 ms quiet time); the
test waits for the daemon by polling under a deadline. The doc's log is then read
back update by update: no state it ever held may be the half-written file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pycrdt
import pytest

from p2psync.storage import read_updates
from p2psync.storage.layout import log_path
from tests.support.daemons import Device
from tests.support.mirror import live_entries
from tests.support.probes import wait_saved

Share = Callable[..., list[Device]]

OLD = "the version every peer has\n"
FIRST = "".join(f"line {i} of the first part\n" for i in range(2000))
SECOND = "".join(f"line {i} of the second part\n" for i in range(2000))
PAUSE_S = 0.3


def in_two_writes(path: Path) -> None:
    with path.open("w") as file:  # truncated here: the doc must never be empty
        file.write(FIRST)
        file.flush()
        time.sleep(PAUSE_S)
        file.write(SECOND)


def truncated_then_appended(path: Path) -> None:
    path.open("w").close()
    time.sleep(PAUSE_S)
    with path.open("a") as file:
        file.write(FIRST + SECOND)


def doc_history(device: Device, name: str) -> list[str]:
    """The text of ``name``'s doc after each update in its log, in order."""
    [guid] = live_entries(device, name)
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    content = doc.get("content", type=pycrdt.Text)
    texts = []
    for update in read_updates(log_path(device.folder, guid)):
        doc.apply_update(update)
        texts.append(str(content))
    return texts


@pytest.mark.parametrize("write", [in_two_writes, truncated_then_appended])
def test_a_file_written_in_parts_reaches_its_doc_only_whole(
    share_of: Share, write: Callable[[Path], None]
) -> None:
    [alice] = share_of("alice")
    notes = alice.folder / "notes.md"
    notes.write_text(OLD)
    wait_saved(alice, "notes.md", OLD)
    write(notes)
    wait_saved(alice, "notes.md", FIRST + SECOND)
    history = doc_history(alice, "notes.md")
    assert history[-1] == FIRST + SECOND
    assert set(history) <= {OLD, FIRST + SECOND}, "the doc held a state the file had only midway"
