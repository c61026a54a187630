"""Two real daemons on loopback syncing a large text file as chunk docs (DESIGN §9).

The thresholds are lowered through the configuration (``[docs] chunked_file_bytes``,
``chunk_max_bytes``) so a 100 KB file has about fifty chunks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from p2psync.mirror.chunked import split_for_seed
from tests.integration.mirror.conftest import holds
from tests.integration.scale.test_reconnect import loaded, share_status
from tests.integration.sync.daemons import Device, link, make_share, wait_for

CHUNKED_FILE_BYTES = 20_000
CHUNK_MAX_BYTES = 4_096
IDLE_UNLOAD_S = 4.0  # long enough that a loaded machine still sees the edit's docs loaded

pytestmark = pytest.mark.slow


def configure(device: Device) -> None:
    path = device.home / "config.toml"
    config: dict[str, Any] = tomllib.loads(path.read_text())
    config["docs"] = {
        "idle_unload_s": IDLE_UNLOAD_S,
        "chunked_file_bytes": CHUNKED_FILE_BYTES,
        "chunk_max_bytes": CHUNK_MAX_BYTES,
    }
    path.write_text(tomli_w.dumps(config))


@contextmanager
def linked_pair(tmp_path: Path) -> Iterator[tuple[Device, Device]]:
    """Alice and bob, started with the lowered thresholds and linked; stopped after."""
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    make_share([alice, bob])
    for device in (alice, bob):
        configure(device)
    try:
        for device in (alice, bob):
            device.start()
        link([alice, bob])
        yield alice, bob
    finally:
        for device in (alice, bob):
            device.stop()


def test_a_large_file_syncs_as_chunks_and_an_edit_loads_only_its_chunk(
    tmp_path: Path,
) -> None:
    with linked_pair(tmp_path) as (alice, bob):
        text = "".join(f"line {n:05} 中文 😀\n" for n in range(4_000))
        data = text.encode()
        assert len(data) > CHUNKED_FILE_BYTES
        (alice.folder / "big.txt").write_bytes(data)
        wait_for(holds(bob.folder / "big.txt", data), "the large file at bob")
        chunks = len(split_for_seed(text, CHUNK_MAX_BYTES))
        assert share_status(bob)["docs"] == chunks + 1  # the root and its chunks
        assert share_status(bob)["files"] == 1
        wait_for(lambda: loaded(bob) <= 1, "bob's chunks to leave memory")

        edited = text[:-40] + "an edit near the end\n" + text[-40:]
        (alice.folder / "big.txt").write_text(edited)
        wait_for(holds(bob.folder / "big.txt", edited.encode()), "the edit at bob")
        touched = loaded(bob)
        assert 2 <= touched <= 4, f"{touched} docs loaded for one edit of {chunks} chunks"

        boundary = len(split_for_seed(text, CHUNK_MAX_BYTES)[0])
        ours = edited[: boundary - 5] + "[alice]" + edited[boundary - 5 :]
        theirs = edited[: boundary + 5] + "[bob]" + edited[boundary + 5 :]
        (alice.folder / "big.txt").write_text(ours)
        (bob.folder / "big.txt").write_text(theirs)
        merged = (
            edited[: boundary - 5] + "[alice]" + edited[boundary - 5 : boundary + 5] + "[bob]"
        ) + edited[boundary + 5 :]
        for device in (alice, bob):
            wait_for(holds(device.folder / "big.txt", merged.encode()), f"the merge at {device}")
        assert not list((bob.folder / ".p2psync").glob("conflicts/**/*big*"))


def test_a_text_file_that_grows_past_the_threshold_keeps_syncing_and_merging(
    tmp_path: Path,
) -> None:
    with linked_pair(tmp_path) as (alice, bob):
        text = "".join(f"note {n:04}\n" for n in range(1_000))
        assert len(text.encode()) < CHUNKED_FILE_BYTES
        (alice.folder / "notes.txt").write_text(text)
        wait_for(holds(bob.folder / "notes.txt", text.encode()), "the small file at bob")
        assert share_status(bob)["docs"] == 1

        grown = text + "".join(f"appended {n:05}\n" for n in range(2_000))
        (alice.folder / "notes.txt").write_text(grown)
        wait_for(holds(bob.folder / "notes.txt", grown.encode()), "the grown file at bob")
        assert share_status(bob)["docs"] > 3  # the root, now its first chunk, and more
        assert share_status(bob)["files"] == 1

        ours = "alice's head\n" + grown
        theirs = grown + "bob's tail\n"
        (alice.folder / "notes.txt").write_text(ours)
        (bob.folder / "notes.txt").write_text(theirs)
        merged = ("alice's head\n" + grown + "bob's tail\n").encode()
        for device in (alice, bob):
            wait_for(holds(device.folder / "notes.txt", merged), f"the merge at {device}")
        assert not list((bob.folder / ".p2psync").glob("conflicts/**/*notes*"))
