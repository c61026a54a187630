"""Another program appends to one of a chunked file's chunk docs through its log
(``append_update``, docs/storage.md): the file shows it, here and at the peer, and a
save of the file made after it keeps it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from p2psync.mirror.chunked import chunk_order
from p2psync.storage import append_update, read_state
from p2psync.storage.layout import log_path
from tests.support.chunkeddaemons import linked_pair
from tests.support.daemons import Device, wait_for
from tests.support.mirror import holds
from tests.support.probes import guid_of

pytestmark = pytest.mark.slow


def append_to_a_chunk(device: Device, path: str, which: int, line: str) -> None:
    """Insert ``line`` after the first newline of chunk ``which`` of the file at
    ``path`` (in the order its root lists them), as a program with its own client ID."""
    root_guid = guid_of(device, path)
    root: pycrdt.Doc[Any] = pycrdt.Doc()
    root.apply_update(read_state(log_path(device.folder, root_guid)))
    log = log_path(device.folder, chunk_order(root, root_guid)[which])
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=77)
    doc.apply_update(read_state(log))
    before = doc.get_state()
    text = doc.get("content", type=pycrdt.Text)
    text.insert(str(text).index("\n") + 1, line)
    append_update(log, doc.get_update(before))


def shows(file: Path, line: str) -> Callable[[], bool]:
    return lambda: line.encode() in file.read_bytes()


def test_an_append_to_a_chunk_reaches_the_file_and_survives_the_next_save(
    tmp_path: Path,
) -> None:
    with linked_pair(tmp_path) as (alice, bob):
        text = "".join(f"line {n:05}\n" for n in range(4_000))
        (alice.folder / "big.txt").write_text(text)
        for device in (alice, bob):
            wait_for(holds(device.folder / "big.txt", text.encode()), f"big.txt at {device}")
        append_to_a_chunk(alice, "big.txt", 2, "appended by a program\n")
        for device in (alice, bob):
            wait_for(shows(device.folder / "big.txt", "appended by a program\n"), f"{device}")
        saved = (alice.folder / "big.txt").read_text() + "a save at the end\n"
        (alice.folder / "big.txt").write_text(saved)
        for device in (alice, bob):
            wait_for(holds(device.folder / "big.txt", saved.encode()), f"the save at {device}")


@pytest.mark.parametrize("which", [0, -1], ids=["the-root-itself", "the-last-chunk"])
def test_an_append_to_a_file_converted_in_place_reaches_the_file(
    tmp_path: Path, which: int
) -> None:
    with linked_pair(tmp_path) as (alice, bob):
        text = "".join(f"note {n:04}\n" for n in range(1_000))
        (alice.folder / "notes.txt").write_text(text)
        wait_for(holds(bob.folder / "notes.txt", text.encode()), "the small file at bob")
        grown = text + "".join(f"appended {n:05}\n" for n in range(2_000))
        (alice.folder / "notes.txt").write_text(grown)
        wait_for(holds(bob.folder / "notes.txt", grown.encode()), "the grown file at bob")
        append_to_a_chunk(alice, "notes.txt", which, "into a chunk\n")
        for device in (alice, bob):
            wait_for(shows(device.folder / "notes.txt", "into a chunk\n"), f"{device}")
