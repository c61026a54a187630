"""A doc's log deleted under a running daemon is written again, never left empty.

The log is the durable copy of a doc. Deleted while the doc is in memory, the daemon
rewrites it from memory at once; deleted while the doc is unloaded (its content then
only on peers), the daemon asks its peers for the doc again. Either way it says so.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from p2psync.storage import read_state
from p2psync.storage.layout import log_path
from tests.support.daemons import Device, link, make_share, unload_quickly, wait_for


@pytest.fixture
def devices(pair: list[Device]) -> list[Device]:
    return pair


def logged_text(path: Path) -> str | None:
    """The text the log at ``path`` holds on disk, None if there is no log."""
    try:
        state = read_state(path)
    except (FileNotFoundError, ValueError):
        return None
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(state)
    return str(doc.get("content", type=pycrdt.Text))


def unloaded(device: Device, guid: str) -> bool:
    """Whether the daemon's last word on doc ``guid`` is that it unloaded it (it logs
    each load and unload at debug level)."""
    said = re.findall(rf"doc {re.escape(guid)} (loaded|unloaded \(idle\))$",
                      (device.home / "daemon.log").read_text(), re.MULTILINE)  # fmt: skip
    return bool(said) and said[-1] != "loaded"


def test_a_log_deleted_while_its_doc_is_loaded_is_rewritten_from_memory(
    devices: list[Device],
) -> None:
    alice, _ = devices
    make_share([alice])
    alice.start()
    alice.apply_text("notes.md", "kept through a deleted log", client_id=7)
    path = log_path(alice.folder, "notes.md")
    wait_for(lambda: logged_text(path) == "kept through a deleted log", "the edit on disk")

    path.unlink()
    wait_for(lambda: logged_text(path) == "kept through a deleted log", "the log rewritten")
    alice.stop(signal.SIGKILL)  # only what is on disk counts now
    alice.start()
    assert alice.text("notes.md") == "kept through a deleted log"
    log = (alice.home / "daemon.log").read_text()
    assert "the log of notes.md was deleted or replaced; rewritten from memory" in log


def test_a_log_deleted_while_its_doc_is_unloaded_is_fetched_again_from_peers(
    devices: list[Device],
) -> None:
    alice, bob = devices
    make_share(devices)
    unload_quickly(bob)
    for device in devices:
        device.start()
    link(devices)
    alice.apply_text("notes.md", "only peers have it now", client_id=8)
    path = log_path(bob.folder, "notes.md")
    wait_for(lambda: logged_text(path) == "only peers have it now", "the edit on bob's disk")
    wait_for(lambda: unloaded(bob, "notes.md"), "bob unloading the doc")

    path.unlink()
    wait_for(lambda: logged_text(path) == "only peers have it now", "the log fetched again")
    log = (bob.home / "daemon.log").read_text()
    assert "the log of notes.md lost changes while unloaded; asking peers" in log
    bob.stop(signal.SIGKILL)
    bob.start()
    assert bob.text("notes.md") == "only peers have it now"
