"""The problems that keep a share's files from being in sync: told once, listed until
a later check no longer finds them."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from p2psync.errors import UnsafePathError
from p2psync.mirror.fileio import NotAFileError
from p2psync.mirror.problems import Problems, error_sentence


def make() -> tuple[Problems, list[tuple[str, dict[str, Any]]]]:
    told: list[tuple[str, dict[str, Any]]] = []
    return Problems("s", lambda kind, **fields: told.append((kind, fields))), told


def test_a_problem_is_told_once_and_listed_until_a_check_no_longer_finds_it() -> None:
    problems, told = make()
    for _ in range(2):
        with problems.checking("a.txt"):
            problems.report("kind:a.txt", "file-skipped", path="a.txt", reason="binary now")
    assert told == [("file-skipped", {"share": "s", "path": "a.txt", "reason": "binary now"})]
    assert problems.listing() == [{"path": "a.txt", "kind": "file-skipped", "reason": "binary now"}]
    with problems.checking("a.txt"):
        pass  # fixed: the check finds nothing
    assert problems.listing() == []
    with problems.checking("a.txt"):
        problems.report("kind:a.txt", "file-skipped", path="a.txt", reason="binary again")
    assert len(told) == 2  # back after it was gone: told again


def test_a_check_of_one_path_keeps_the_others_and_nested_checks_tell_nothing_twice() -> None:
    problems, told = make()
    problems.report("write:b.txt", "file-error", path="b.txt", message="disk full")
    with problems.checking("a.txt"):
        problems.report("read:a.txt", "file-error", path="a.txt", message="denied")
        with problems.checking("a.txt"):  # the engine reconciles a path again inside
            problems.report("read:a.txt", "file-error", path="a.txt", message="denied")
    assert [p["path"] for p in problems.listing()] == ["a.txt", "b.txt"]
    assert len(told) == 2


def test_a_walk_settles_what_it_skipped_and_share_problems_are_not_listed() -> None:
    problems, _ = make()
    for rel in ("big.iso", "fifo"):
        problems.report(f"walk:{rel}", "file-skipped", path=rel, reason="not a file")
    problems.report("ignore:3:x[", "ignore-problem", line=3, reason="bad pattern")
    problems.settle("walk:", {"fifo"})
    assert problems.listing() == [{"path": "fifo", "kind": "file-skipped", "reason": "not a file"}]


def test_file_errors_reports_a_failed_file_operation_and_says_it_failed() -> None:
    problems, told = make()
    undone: list[Exception] = []
    with problems.file_errors("write:a.txt", "a.txt", then=undone.append) as failed:
        raise PermissionError("denied")
    assert failed
    assert [str(exc) for exc in undone] == ["denied"]
    assert told == [("file-error", {"share": "s", "path": "a.txt", "message": "denied"})]
    with problems.file_errors("write:b.txt", "b.txt") as failed:
        pass
    assert not failed
    assert len(told) == 1


def test_file_errors_lets_through_what_it_is_not_to_catch() -> None:
    problems, told = make()
    with (
        pytest.raises(FileNotFoundError),
        problems.file_errors("mv:a", "a", but=(FileNotFoundError,)),
    ):
        raise FileNotFoundError("a")
    with pytest.raises(NotAFileError), problems.file_errors("read:a", "a"):
        raise NotAFileError("a is a folder")
    with problems.file_errors("read:a", "a", also=(NotAFileError,)) as failed:
        raise NotAFileError("a is a folder")
    with problems.file_errors("read:b", "b") as unsafe:
        raise UnsafePathError("b", "no")
    assert failed
    assert unsafe
    assert [kind for kind, _ in told] == ["file-error", "file-error"]


@pytest.mark.parametrize(("error", "sentence"), [
    (FileExistsError(errno.EEXIST, "File exists", "/s/a.txt"),
     "a file is in the way: /s/a.txt or a folder above it is a file, not a folder"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/s/a.txt/b.txt"),
     "a file is in the way: /s/a.txt/b.txt or a folder above it is a file, not a folder"),
    (PermissionError(errno.EACCES, "Permission denied", "/s/b.txt"),
     "Permission denied: /s/b.txt"),
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    (PermissionError("denied"), "denied"),
])  # fmt: skip
def test_a_failed_file_operation_is_listed_in_words_not_as_a_python_error(
    error: OSError, sentence: str
) -> None:
    problems, _ = make()
    with problems.file_errors("write:a.txt", "a.txt"):
        raise error
    assert problems.listing() == [{"path": "a.txt", "kind": "file-error", "reason": sentence}]


def test_a_path_is_listed_once_per_kind_whoever_found_it() -> None:
    # The folder walk and a look at the file both skip a symlink, each in its words.
    problems, told = make()
    problems.report("walk:link", "file-skipped", path="link", reason="a symlink (not followed)")
    problems.report("skip:link", "file-skipped", path="link", reason="link is a symlink")
    problems.report("write:link", "file-error", path="link", message="denied")
    assert problems.listing() == [
        {"path": "link", "kind": "file-skipped", "reason": "a symlink (not followed)"},
        {"path": "link", "kind": "file-error", "reason": "denied"},
    ]
    assert len(told) == 3  # each told as it was found


def test_an_os_error_naming_a_file_descriptor_is_said_without_a_name() -> None:
    """``os.fdopen`` of a folder's descriptor names the descriptor, an int: the
    sentence says what failed instead of crashing the mirror on it."""
    assert error_sentence(IsADirectoryError(errno.EISDIR, "Is a directory", 30)) == (
        "Is a directory"
    )
    assert error_sentence(IsADirectoryError(errno.EISDIR, "Is a directory", "a.md")) == (
        "Is a directory: a.md"
    )
