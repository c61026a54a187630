"""Conflict copies: names a person reads (original name, date, why, device, extension
last), never overwritten, bounded, and read back by ``list_copies``."""

from __future__ import annotations

import re
import time
from pathlib import Path

from p2psync.mirror.conflicts import NAME_MAX_BYTES, copy_name, keep_copy, list_copies
from p2psync.storage.layout import marker_dir

WHEN = time.mktime((2026, 12, 5, 3, 12, 0, 0, 0, -1))


def test_a_copy_keeps_its_folder_and_name_with_the_extension_last() -> None:
    name = copy_name("docs/notes.md", "local", "U7PSEDM", WHEN)
    assert name == "docs/notes.conflict-20261205-031200-local-U7PSEDM.md"
    assert copy_name("Makefile", "lost", "ABCDEFG", WHEN).endswith("-lost-ABCDEFG")
    assert copy_name("a.tar.gz", "overwritten", "X", None) == "a.tar.conflict-overwritten-X.gz"
    assert copy_name(".bashrc", "local", "X", None) == ".bashrc.conflict-local-X"


def test_hostile_device_names_and_long_names_make_safe_bounded_names() -> None:
    name = copy_name("x.txt", "local", "../../etc/passwd: 😀", WHEN)
    assert "/" not in name
    assert ":" not in name
    assert re.fullmatch(r"x\.conflict-\d{8}-\d{6}-local-etcpasswd\.txt", name)
    long = copy_name("d/" + "é" * 200 + ".md", "local", "U7PSEDM", WHEN)
    leaf = long.rsplit("/", 1)[-1]
    assert len(leaf.encode()) <= NAME_MAX_BYTES
    assert leaf.endswith("-local-U7PSEDM.md")


def test_copies_are_never_overwritten_and_read_back(tmp_path: Path) -> None:
    first = keep_copy(tmp_path, "docs/notes.md", "local", b"one", device="U7PSEDM")
    again = keep_copy(tmp_path, "docs/notes.md", "local", b"one", device="U7PSEDM")
    other = keep_copy(tmp_path, "docs/notes.md", "local", b"two", device="U7PSEDM")
    assert first.parent == marker_dir(tmp_path) / "conflicts" / "docs"
    assert {first.read_bytes(), other.read_bytes()} == {b"one", b"two"}
    assert again == first  # the same bytes: the same copy
    assert other != first
    copies = list_copies(tmp_path)
    assert {c.path for c in copies} == {"docs/notes.md"}
    assert {c.why for c in copies} == {"local"}
    assert {c.device for c in copies} == {"U7PSEDM"}
    assert len(copies) == len({first, other})
    assert all(c.when is not None and abs(c.when - time.time()) < 120 for c in copies)


def test_a_refreshed_copy_keeps_one_name_and_old_names_are_listed(tmp_path: Path) -> None:
    one = keep_copy(tmp_path, "README.md", "case", b"a", device="f:1a2b", refresh=True)
    two = keep_copy(tmp_path, "README.md", "case", b"b", device="f:1a2b", refresh=True)
    assert one == two
    assert two.read_bytes() == b"b"
    (marker_dir(tmp_path) / "conflicts" / "old.bin.001796418067689-0000000000-43d8").write_bytes(
        b"x"
    )
    listed = {(c.copy, c.path, c.why) for c in list_copies(tmp_path)}
    assert ("README.conflict-case-f1a2b.md", "README.md", "case") in listed
    assert ("old.bin.001796418067689-0000000000-43d8", "", "unknown") in listed
