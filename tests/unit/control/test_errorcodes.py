"""The error table (control/errorcodes.py): every error has one stable code, and an
error that crossed the control API exits as the same error raised in the CLI does."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from p2psync import errors
from p2psync.control.errorcodes import (
    BY_CODE,
    ERRORS,
    EXIT_ERROR,
    EXIT_NO_DAEMON,
    EXIT_STORAGE,
    EXIT_USAGE,
    NotFoundError,
    error_code,
    exit_code,
    reply_error,
)
from p2psync.errors import ControlError, P2PSyncError

ROOT = Path(__file__).resolve().parents[3]

# One error of each kind the CLI or the daemon raises, and its code and exit code.
CASES: list[tuple[P2PSyncError, str, int]] = [
    (errors.DaemonNotRunningError("no daemon"), "no-daemon", EXIT_NO_DAEMON),
    (errors.InvalidIdError("'x' is not a device ID"), "bad-id", EXIT_USAGE),
    (errors.InvalidInviteError("mistyped"), "bad-invite-code", EXIT_USAGE),
    (errors.ConfigError("'300.1.1.1' is not an IPv4 address"), "bad-config", EXIT_USAGE),
    (NotFoundError("this device has no share x"), "not-found", EXIT_USAGE),
    (errors.ChunkedDocError("a chunked file"), "chunked-doc", EXIT_USAGE),
    (errors.UsageError("/etc/passwd is not a directory"), "usage", EXIT_USAGE),
    (errors.UpdateError("not a Yjs v1 update"), "bad-update", EXIT_USAGE),
    (errors.StorageError(Path("/a/b.ylog"), "cannot write"), "storage", EXIT_STORAGE),
    (errors.CorruptLogError(Path("/a/b.ylog"), 7, "bad crc"), "storage", EXIT_STORAGE),
    (errors.InviteRefusedError("unknown code"), "invite-refused", EXIT_ERROR),
    (ControlError("params must be an object", "bad-request"), "bad-request", EXIT_ERROR),
    (ControlError("unknown method 'x'", "unknown-method"), "unknown-method", EXIT_ERROR),
    (ControlError("the daemon did not answer in time", "timeout"), "timeout", EXIT_ERROR),
    (ControlError("no code of the table", "made-up"), "error", EXIT_ERROR),
    (errors.IdentityError("cannot read the key"), "error", EXIT_ERROR),
]


@pytest.mark.parametrize(("error", "code", "exit"), CASES, ids=lambda v: type(v).__name__)
def test_each_error_has_its_code_and_exit_code(error: P2PSyncError, code: str, exit: int) -> None:
    assert (error_code(error), exit_code(error)) == (code, exit)


@pytest.mark.parametrize(("error", "code", "exit"), CASES, ids=lambda v: type(v).__name__)
def test_a_reply_error_exits_as_the_error_itself(error: P2PSyncError, code: str, exit: int) -> None:
    """What the client raises for the daemon's reply has the same code and exit code,
    the same sentence, and is a ControlError (the tray catches those) of the same
    kind (the CLI catches ChunkedDocError, UpdateError...)."""
    replied = reply_error(error_code(error), str(error))
    assert isinstance(replied, ControlError)
    assert replied.code == code
    assert str(replied) == str(error)
    assert (error_code(replied), exit_code(replied)) == (code, exit)
    assert isinstance(replied, BY_CODE[code].kind)


def test_a_storage_error_replied_keeps_its_file() -> None:
    replied = reply_error("storage", "/a/b: c.ylog: cannot write", "/a/b: c.ylog")
    assert isinstance(replied, errors.StorageError)
    assert replied.path == Path("/a/b: c.ylog")  # a colon in the name is no cut
    older = reply_error("storage", "/a/b.ylog: cannot write")  # a daemon sending no path
    assert isinstance(older, errors.StorageError)
    assert older.path == Path("/a/b.ylog")


def test_an_unknown_code_is_a_plain_error() -> None:
    replied = reply_error("from-a-newer-daemon", "something new")
    assert type(replied) is ControlError
    assert replied.code == "from-a-newer-daemon"
    assert exit_code(replied) == EXIT_ERROR


def test_codes_are_unique_and_the_last_row_matches_everything() -> None:
    assert len(BY_CODE) == len(ERRORS)
    assert ERRORS[-1].kind is P2PSyncError


def test_codes_are_kebab_case_words_never_class_names() -> None:
    class_names = {name for name in dir(errors) if name[:1].isupper()} | {"NotFoundError"}
    for row in ERRORS:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", row.code), row.code
        assert row.code not in class_names


def test_more_specific_classes_come_first() -> None:
    """A row is never shadowed by an earlier row of a base class."""
    for index, row in enumerate(ERRORS):
        for earlier in ERRORS[:index]:
            if earlier.kind is not ControlError:
                assert not issubclass(row.kind, earlier.kind), (row.code, earlier.code)


def _control_error_codes() -> set[str]:
    """The code of every ``ControlError(message, "code")`` written in p2psync/."""
    codes: set[str] = set()
    for path in (ROOT / "p2psync").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "ControlError"
                and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
            ):
                codes.add(str(node.args[1].value))
    return codes


def test_every_control_error_code_raised_is_in_the_table() -> None:
    """A ControlError raised with a code the table lacks would reach clients as
    ``error``: each is a row of its own."""
    found = _control_error_codes()
    assert {"bad-request", "unknown-method", "internal-error", "timeout"} <= found
    rows = {row.code for row in ERRORS if row.kind is ControlError}
    assert found <= rows
