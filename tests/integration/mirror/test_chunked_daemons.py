"""Two real daemons on loopback syncing a large text file as chunk docs (docs/mirror.md).

The thresholds are lowered through the configuration (``[docs] chunked_file_bytes``,
``chunk_max_bytes``) so a 100 KB file has about fifty chunks.
"""

from __future__ import annotations

import random
import threading
from functools import partial
from pathlib import Path

import pytest

from p2psync.mirror.chunked import split_for_seed
from tests.support.chunkeddaemons import (
    CHUNK_MAX_BYTES,
    CHUNKED_FILE_BYTES,
    configure,
    linked_pair,
)
from tests.support.daemons import Device, link, make_share, wait_for
from tests.support.mirror import holds, live_entries, read
from tests.support.probes import loaded, share_status

pytestmark = pytest.mark.slow


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
        mark = bob.log_mark()

        edited = text[:-40] + "an edit near the end\n" + text[-40:]
        (alice.folder / "big.txt").write_text(edited)
        wait_for(holds(bob.folder / "big.txt", edited.encode()), "the edit at bob")
        # What bob says it loaded for the edit (counting what is in memory now would
        # race the idle unload): the edited chunk, and at most the root and a neighbour.
        touched = bob.docs_loaded_since(mark)
        assert 1 <= len(touched) <= 3, f"{sorted(touched)} loaded for one edit of {chunks} chunks"

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


def save_in_place(path: Path, data: bytes, *, truncate_first: bool) -> None:
    """Overwrite ``path`` in place, as an editor that keeps the inode does: opened
    ``"w"`` (cut to nothing, then written) or ``"r+"`` (written over, then cut)."""
    with path.open("wb" if truncate_first else "r+b") as file:
        file.write(data)
        file.truncate()


def with_markers(data: bytes, markers: list[bytes], rng: random.Random) -> bytes:
    """``data`` with each of ``markers`` (whole lines) inserted at a random line start."""
    for marker in markers:
        at = data.find(b"\n", rng.randrange(len(data))) + 1
        data = data[:at] + marker + data[at:]
    return data


def test_concurrent_in_place_saves_of_a_large_file_merge_without_doubling(
    tmp_path: Path,
) -> None:
    # The default thresholds (4 MiB, chunks of 256 KiB), as a new user has them; 20 MB.
    with linked_pair(tmp_path, {}) as (alice, bob):
        data = "".join(f"row {n:07} of the large file, some text to fill it\n"
                       for n in range(400_000)).encode()  # fmt: skip
        (alice.folder / "big.txt").write_bytes(data)
        wait_for(holds(bob.folder / "big.txt", data), "the large file at bob", 120)
        size, markers = len(data), []
        rng = random.Random(7)
        for round_ in range(4):
            ready = threading.Barrier(2)
            made: list[bytes] = []

            def save(device: Device, side: str, first: bool, round_: int, ready: threading.Barrier,
                     made: list[bytes]) -> None:  # fmt: skip
                path = device.folder / "big.txt"
                mine = [f"<{side} {round_} {n}>\n".encode() for n in range(3)]
                saved = with_markers(path.read_bytes(), mine, random.Random(f"{side}{round_}"))
                made.extend(mine)
                ready.wait()  # both read before either writes: two concurrent saves
                save_in_place(path, saved, truncate_first=first)

            threads = [
                threading.Thread(
                    target=save, args=(device, side, rng.random() < 0.5, round_, ready, made)
                )
                for device, side in ((alice, "alice"), (bob, "bob"))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            markers += made
            size += sum(map(len, made))

            def converged(expected: int = size) -> bool:
                got = [read(device.folder / "big.txt") for device in (alice, bob)]
                return got[0] == got[1] and got[0] is not None and len(got[0]) == expected

            try:
                wait_for(converged, f"round {round_} on both devices", 120)
            except AssertionError:
                got = [read(device.folder / "big.txt") or b"" for device in (alice, bob)]
                lost = [m for m in markers if any(g.count(m) != 1 for g in got)]
                raise AssertionError(
                    f"round {round_}: sizes {[len(g) for g in got]}, expected {size}; "
                    f"markers not exactly once: {lost}"
                ) from None
        final = read(alice.folder / "big.txt") or b""
        assert all(final.count(marker) == 1 for marker in markers)


def scanned(device: Device) -> bool:
    return device.text("plan.md") is not None


def test_a_version_of_a_large_file_made_on_two_devices_is_merged_not_kept_aside(
    tmp_path: Path,
) -> None:
    """As for a one-doc file (test_folders.py): the loser of a large file's path
    created on two devices, when it is mostly the winner's lines, has its own lines
    merged into the winner's chunks by the device that made it."""
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    make_share([alice, bob])
    lines = "".join(f"line {i} of a large plan\n" for i in range(2_000))  # ~50 KB
    try:
        for device, text in ((alice, lines + "alice's end\n"), (bob, "bob's top\n" + lines)):
            configure(device)
            device.folder.mkdir(parents=True, exist_ok=True)
            (device.folder / "plan.md").write_text(text)
            device.start()
            wait_for(partial(scanned, device), f"{device.home.name}'s scan")
        link([alice, bob])
        merged = ("bob's top\n" + lines + "alice's end\n").encode()
        for device in (alice, bob):
            wait_for(holds(device.folder / "plan.md", merged), f"the merge on {device.home.name}")
        wait_for(lambda: all(len(live_entries(d, "plan.md")) == 1 for d in (alice, bob)),
                 "one entry on each")  # fmt: skip
        assert "its lines are merged into the file" in (bob.home / "daemon.log").read_text()
    finally:
        for device in (alice, bob):
            device.stop()
