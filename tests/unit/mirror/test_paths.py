"""paths: share paths from peers and disk are refused unless they are safe everywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2psync.errors import P2PSyncError, UnsafePathError
from p2psync.mirror.paths import (
    MAX_NAME_BYTES,
    MAX_PATH_BYTES,
    case_key,
    is_inside,
    share_path,
)


@pytest.mark.parametrize(
    "path",
    [
        "a",
        "notes/today.md",
        "a/b/c/d.txt",
        ".hidden",
        "..double-dot-prefix",
        "a..b",
        "dir/.p2psync",  # only the share's top-level .p2psync is internal
        ".p2psyncignore",
        ".p2psync-notes/x",
        "中文/😀 emoji.txt",
        "e\u0301.txt",
        "question?.txt",  # refused by Windows, harmless elsewhere: accepted
        "CONSOLE.txt",
        "com10",
        "lpt",
        "nul-terminated.c",
        " leading space",
        "x" * MAX_NAME_BYTES,
        "\u00e9" * (MAX_NAME_BYTES // 2),
    ],
)
def test_safe_paths_are_returned_unchanged(path: str) -> None:
    assert share_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("//server/share", "absolute"),
        ("..", "'..'"),
        ("../escape", "'..'"),
        ("a/../../escape", "'..'"),
        ("a/..", "'..'"),
        ("./a", "'.'"),
        ("a/./b", "'.'"),
        ("a//b", "empty component"),
        ("a/", "empty component"),
        ("C:/Windows", "colon"),
        ("c:", "colon"),
        ("file.txt:stream", "colon"),
        ("a\\b", "backslash"),
        ("..\\escape", "backslash"),
        ("a\0b", "NUL"),
        ("a\nb", "control"),
        ("tab\there", "control"),
        ("del\x7f", "control"),
        ("c1\x85", "control"),
        ("bad\udcff", "surrogate"),
        ("CON", "device"),
        ("con", "device"),
        ("dir/Nul.txt", "device"),
        ("aux.tar.gz", "device"),
        ("COM1", "device"),
        ("lpt9.log", "device"),
        ("COM\u00b9", "device"),
        ("conin$", "device"),
        ("CON .txt", "device"),
        ("trailing.", "dot or space"),
        ("dir./file", "dot or space"),
        ("trailing ", "dot or space"),
        ("x" * (MAX_NAME_BYTES + 1), "longer than 255"),
        ("\u00e9" * (MAX_NAME_BYTES // 2 + 1), "longer than 255"),
        ("/".join(["d" * 200] * 21), "longer than 4096"),
        (".p2psync", "internal"),
        (".p2psync/docs/x.ylog", "internal"),
        (".P2PSync/docs", "internal"),
        (".p2p\u200dsync/x", "internal"),
    ],
)
def test_unsafe_paths_are_refused_with_a_reason(path: str, reason: str) -> None:
    with pytest.raises(UnsafePathError, match="unsafe path") as caught:
        share_path(path)
    assert reason in caught.value.reason
    assert caught.value.path == path


def test_error_is_part_of_the_hierarchy_and_a_value_error() -> None:
    with pytest.raises(UnsafePathError) as caught:
        share_path("../x")
    assert isinstance(caught.value, P2PSyncError)
    assert isinstance(caught.value, ValueError)
    assert "'../x'" in str(caught.value)


def test_path_length_limit_is_inclusive() -> None:
    name = "d" * 127
    path = "/".join([name] * 32)  # 32 * 127 + 31 = 4095 bytes
    path += "e"
    assert len(path.encode()) == MAX_PATH_BYTES
    assert share_path(path) == path


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Readme.md", "README.MD"),
        ("dir/File.txt", "DIR/file.TXT"),
        ("\u00e9.txt", "e\u0301.txt"),  # NFC and NFD
        ("\u00c9.txt", "e\u0301.TXT"),
        ("stra\u00dfe", "STRASSE"),
        ("\u01f0", "J\u030c"),
    ],
)
def test_case_key_collisions(a: str, b: str) -> None:
    assert case_key(a) == case_key(b)


@pytest.mark.parametrize(("a", "b"), [("a.txt", "b.txt"), ("a/b", "a_b"), ("e.txt", "é.txt")])
def test_case_key_keeps_different_names_apart(a: str, b: str) -> None:
    assert case_key(a) != case_key(b)


def test_is_inside_joins_below_the_root(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert is_inside(tmp_path, "a/new.txt") == tmp_path / "a" / "new.txt"
    assert is_inside(tmp_path, "not/yet/there") == tmp_path / "not" / "yet" / "there"


def test_is_inside_refuses_what_share_path_refuses(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match=r"'\.\.'"):
        is_inside(tmp_path, "../outside")


def test_is_inside_refuses_a_symlinked_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "share", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="symlink"):
        is_inside(root, "link/file.txt")


def test_is_inside_refuses_a_symlink_as_the_last_component(tmp_path: Path) -> None:
    root = tmp_path / "share"
    root.mkdir()
    (root / "f").symlink_to(tmp_path / "target-that-does-not-exist")
    with pytest.raises(UnsafePathError, match="symlink"):
        is_inside(root, "f")


def test_is_inside_refuses_a_symlink_deep_down(tmp_path: Path) -> None:
    root = tmp_path / "share"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "c").symlink_to("/")
    with pytest.raises(UnsafePathError, match="symlink"):
        is_inside(root, "a/b/c/etc/passwd")


def test_is_inside_allows_a_root_under_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert is_inside(tmp_path / "alias", "x.txt") == tmp_path / "alias" / "x.txt"


def test_is_inside_with_a_file_where_a_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    # Nothing can be followed below a regular file: the caller's write fails cleanly.
    assert is_inside(tmp_path, "file/child") == tmp_path / "file" / "child"
    assert not os.path.lexists(tmp_path / "file" / "child")
