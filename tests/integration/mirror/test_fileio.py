"""The mirror's file operations on a real folder (mirror/fileio.py, mirror/scan.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2psync.errors import UnsafePathError
from p2psync.mirror.fileio import (
    FileChangedError,
    NotAFileError,
    move_file,
    read_file,
    remove_file,
    write_file,
)
from p2psync.mirror.ignore import IgnoreRules
from p2psync.mirror.scan import walk_share
from p2psync.storage.layout import marker_dir


@pytest.fixture
def root(tmp_path: Path) -> Path:
    share = tmp_path / "share"
    marker_dir(share).mkdir(parents=True)
    return share


def test_a_write_replaces_atomically_and_keeps_the_permissions(root: Path) -> None:
    path = root / "a.txt"
    path.write_text("old")
    path.chmod(0o640)
    got = read_file(root, "a.txt")
    assert got is not None
    stat = write_file(root, "a.txt", b"new", executable=False, expect=got[1])
    assert path.read_bytes() == b"new"
    assert stat.mode & 0o777 == 0o640
    assert list((marker_dir(root) / "tmp").iterdir()) == []  # no temp file left


def test_a_write_refuses_a_file_saved_since_it_was_read(root: Path) -> None:
    path = root / "a.txt"
    path.write_text("old")
    got = read_file(root, "a.txt")
    assert got is not None
    path.write_text("saved meanwhile, longer")
    with pytest.raises(FileChangedError):
        write_file(root, "a.txt", b"remote", executable=False, expect=got[1])
    assert path.read_text() == "saved meanwhile, longer"
    with pytest.raises(FileChangedError):  # expect=None: must not exist
        write_file(root, "a.txt", b"remote", executable=False, expect=None)
    assert list((marker_dir(root) / "tmp").iterdir()) == []


def test_new_files_get_folders_and_exec_bits(root: Path) -> None:
    stat = write_file(root, "bin/run.sh", b"#!/bin/sh\n", executable=True, expect=None)
    assert stat.executable
    assert (root / "bin" / "run.sh").read_bytes() == b"#!/bin/sh\n"


def test_nothing_is_written_through_a_symlink(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        write_file(root, "link/x.txt", b"x", executable=False, expect=None)
    (root / "file-link").symlink_to(outside / "target")
    with pytest.raises(UnsafePathError, match="is a symlink"):
        read_file(root, "file-link")
    os.mkfifo(root / "fifo")
    with pytest.raises(NotAFileError):
        read_file(root, "fifo")
    with pytest.raises(UnsafePathError):
        write_file(root, "../escape.txt", b"x", executable=False, expect=None)
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


def test_moves_and_removes_leave_no_empty_folders(root: Path) -> None:
    write_file(root, "a/b/c.txt", b"c", executable=False, expect=None)
    got = read_file(root, "a/b/c.txt")
    assert got is not None
    moved = move_file(root, "a/b/c.txt", "d/c.txt", expect=got[1])
    assert not (root / "a").exists()
    write_file(root, "e.txt", b"e", executable=False, expect=None)
    with pytest.raises(FileChangedError):  # never over an existing file
        move_file(root, "d/c.txt", "e.txt", expect=moved)
    remove_file(root, "d/c.txt", expect=moved)
    assert not (root / "d").exists()


def test_the_scan_skips_links_ignored_and_internal_files(root: Path, tmp_path: Path) -> None:
    (root / "a.md").write_text("a")
    (root / "sub").mkdir()
    (root / "sub" / "b.md").write_text("b")
    (root / "sub" / "b.md.swp").write_text("swap")
    (root / "linked").symlink_to(tmp_path)
    (marker_dir(root) / "docs").mkdir()
    (marker_dir(root) / "docs" / "x.ylog").write_text("log")
    os.mkfifo(root / "pipe")
    files, skipped = walk_share(root, IgnoreRules.parse(""))
    assert sorted(files) == ["a.md", "sub/b.md"]
    assert sorted(rel for rel, _ in skipped) == ["linked", "pipe"]
