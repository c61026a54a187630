"""The one table of errors: exception class, control API error code, CLI exit code.

A p2psync error has the same stable code on the control API (the ``code`` of an error
reply, docs/control-api.md) and the same exit code in the CLI whether it was raised
in the CLI's own process or in the daemon: the server sends ``error_code(exc)``, the
client raises ``reply_error(code, message)``, an instance of the row's class (and a
ControlError, so callers that catch ControlError keep working), and the CLI exits
``exit_code(exc)``. docs/reference/exit-codes.md is ``reference_page()``, checked by
tests/packaging/test_docs.py.

The table lives in ``p2psync.control``, below the CLI, the tray and the daemon, because
the daemon's server and the client both need its codes.
"""

from __future__ import annotations

from pathlib import Path

from p2psync.errors import (
    ChunkedDocError,
    ConfigError,
    ControlError,
    DaemonNotRunningError,
    InvalidIdError,
    InvalidInviteError,
    InviteRefusedError,
    P2PSyncError,
    StorageError,
    UpdateError,
    UsageError,
)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_DAEMON = 3
EXIT_STORAGE = 4
EXIT_ERROR = 5
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a reader that went away

EXITS: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_CHECK_FAILED: "the command's own check failed: `wait-idle` timed out, `doctor` "
    "found damage",
    EXIT_USAGE: "usage error: a bad argument, ID, path, address or configuration file "
    "(argparse errors too); a path with a name too long for the file system; a share or "
    "doc this device does not have; an address `run` cannot listen on; an `UPDATE` for "
    "`doc apply` that is not a Yjs v1 update",
    EXIT_NO_DAEMON: "no daemon is running (for a command that needs one)",
    EXIT_STORAGE: "a log, or a file named on the command line (such as the `UPDATE` of "
    "`doc apply` or the `-o` file of `doc export`), could not be read or written; the "
    "home cannot be written to (`run`: its control socket cannot be made)",
    EXIT_ERROR: "any other p2psync error: the daemon refused a request or timed out, "
    "another daemon already runs on the home (`run`), the demo failed, `systemctl` "
    "failed for `service`",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_BROKEN_PIPE: "the reader of the output went away (`p2psync peers \\| head`); "
    "nothing is printed",
}
"""Every exit code of the CLI and what it means."""


class NotFoundError(UsageError):
    """The request names a share or doc that this device does not have."""


class ErrorKind:
    """One row: errors of class ``kind`` travel as ``code`` and exit with ``exit_code``.

    A row whose ``kind`` is ControlError itself is found by its code (ControlError
    carries one); any other row by class, the first that matches. (A plain class, not
    a NamedTuple: every command imports this table, and typing is not to be imported
    for it, see control/home.py.)
    """

    __slots__ = ("code", "exit_code", "kind", "meaning")

    def __init__(self, code: str, kind: type[P2PSyncError], exit_code: int, meaning: str) -> None:
        self.code = code
        self.kind = kind
        self.exit_code = exit_code
        self.meaning = meaning


ERRORS: tuple[ErrorKind, ...] = (
    # More specific classes before their bases: the first row that matches wins.
    ErrorKind("no-daemon", DaemonNotRunningError, EXIT_NO_DAEMON,
              "no daemon answers on this home's control socket (raised by the client)"),
    ErrorKind("bad-id", InvalidIdError, EXIT_USAGE,
              "text that should be a device ID or share ID is not one (says why)"),
    ErrorKind("bad-invite-code", InvalidInviteError, EXIT_USAGE,
              "text that should be an invite code is not one, or it was made by a newer version"),
    ErrorKind("bad-config", ConfigError, EXIT_USAGE,
              "the configuration file or a value for it is invalid: an address, a device "
              "name (says which file and field)"),
    ErrorKind("not-found", NotFoundError, EXIT_USAGE,
              "this device has no such share, the share no such doc, or the file no such "
              "version (`history`, `restore`)"),
    ErrorKind("chunked-doc", ChunkedDocError, EXIT_USAGE,
              "`doc.apply` to a chunked file (a large text file): there is no one doc to apply to"),
    ErrorKind("usage", UsageError, EXIT_USAGE,
              "anything else that cannot be done as asked: a bad path, a path already shared, "
              "an expired invite code"),
    ErrorKind("bad-update", UpdateError, EXIT_USAGE,
              "bytes that should be a Yjs v1 update are not one"),
    ErrorKind("storage", StorageError, EXIT_STORAGE,
              "a log, or another file it names, could not be read or written"),
    ErrorKind("invite-refused", InviteRefusedError, EXIT_ERROR,
              "the inviter refused the invite (unknown, used or expired) or no address answered"),
    ErrorKind("bad-request", ControlError, EXIT_ERROR,
              "a request the daemon cannot read: malformed params or message"),
    ErrorKind("unknown-method", ControlError, EXIT_ERROR,
              "the daemon has no such method (see `hello`)"),
    ErrorKind("internal-error", ControlError, EXIT_ERROR,
              "the daemon failed on a request it should have answered (logged; it goes on "
              "serving)"),
    ErrorKind("timeout", ControlError, EXIT_ERROR,
              "no reply came in time (raised by the client)"),
    ErrorKind("closed", ControlError, EXIT_ERROR,
              "the daemon closed the connection before replying (raised by the client)"),
    ErrorKind("bad-reply", ControlError, EXIT_ERROR,
              "the daemon's reply was malformed (raised by the client)"),
    ErrorKind("already-running", ControlError, EXIT_ERROR,
              "another daemon already runs on this home (`run`)"),
    ErrorKind("unsafe-socket-dir", ControlError, EXIT_ERROR,
              "the control socket's directory belongs to another user or anyone may write "
              "to it (`run`)"),
    ErrorKind("error", P2PSyncError, EXIT_ERROR,
              "any other error, and any code a newer daemon may send"),
)  # fmt: skip
"""Every error code, most specific class first; the last row matches every error."""

BY_CODE: dict[str, ErrorKind] = {row.code: row for row in ERRORS}


def error_kind(exc: P2PSyncError) -> ErrorKind:
    """The row of ``exc``: by code for a plain ControlError, else by class."""
    for row in ERRORS:
        if row.kind is ControlError:
            if type(exc) is ControlError and exc.code == row.code:
                return row
        elif isinstance(exc, row.kind):
            return row
    raise AssertionError("unreachable: the last row matches every P2PSyncError")


def error_code(exc: P2PSyncError) -> str:
    """The control API error code of ``exc``."""
    return error_kind(exc).code


def exit_code(exc: P2PSyncError) -> int:
    """The CLI's exit code for ``exc``."""
    return error_kind(exc).exit_code


def reply_error(code: str, message: str, path: object = None) -> ControlError:
    """The error a client raises for an error reply: an instance of both ControlError
    (with ``code``) and the row's class, so that the CLI's exit code is the one the
    same error raised in its own process has. An unknown code gives a ControlError.
    A ``storage`` error's ``path`` is the reply's ``path`` (or its sentence's start,
    from a daemon that sends none)."""
    row = BY_CODE.get(code)
    kind = _REPLY_CLASSES.get(row.kind, ControlError) if row else ControlError
    error = kind(message, code)
    if isinstance(error, StorageError) and isinstance(path, str) and path:
        error.path = Path(path)
    return error


def _reply_class(kind: type[P2PSyncError]) -> type[ControlError]:
    """A ControlError that is also a ``kind``, built from the reply's sentence alone."""
    if issubclass(kind, ControlError):
        return kind
    if issubclass(ControlError, kind):
        return ControlError

    def init(self: ControlError, message: str, code: str) -> None:
        P2PSyncError.__init__(self, message)  # the class's own arguments are not sent
        self.code = code
        if isinstance(self, StorageError):  # a daemon's sentence starts with the file
            self.path = Path(message.partition(": ")[0])

    doc = f"A {kind.__name__} the daemon replied with (a ControlError too)."
    namespace = {"__init__": init, "__doc__": doc, "__module__": __name__}
    return type(kind.__name__, (ControlError, kind), namespace)


_REPLY_CLASSES: dict[type[P2PSyncError], type[ControlError]] = {
    row.kind: _reply_class(row.kind) for row in ERRORS
}


def reference_page() -> str:
    """docs/reference/exit-codes.md, from EXITS and ERRORS."""
    lines = [
        "# Exit codes",
        "",
        "<!-- Generated from p2psync/control/errorcodes.py: edit the table there, then run",
        "     P2PSYNC_UPDATE_SNAPSHOTS=1 pytest tests/packaging/test_docs.py -->",
        "",
        "Every `p2psync` command exits with one of these codes. An error is always one",
        "sentence on standard error, prefixed `p2psync:`, never a traceback. A command",
        "exits with the same code whether it did the work itself or asked the running",
        "daemon: the daemon's error replies carry the [error code](#error-codes) of the",
        "error, and the CLI exits with that code's exit code.",
        "",
        "| code | meaning |",
        "|---|---|",
        *(f"| {code} | {meaning} |" for code, meaning in EXITS.items()),
        "",
        "In scripts:",
        "",
        "```sh",
        "p2psync wait-idle --timeout 60 || case $? in",
        '    1) echo "still syncing after a minute" ;;',
        '    3) echo "start the daemon first" ;;',
        "esac",
        "```",
        "",
        "## Error codes",
        "",
        "The `code` of an error reply of the [control API](../control-api.md), the",
        "class `ControlClient.call` raises for it (a `ControlError` too, with that",
        "`code`), and the exit code of the CLI. The codes are stable: a new one may be",
        "added, an existing one keeps its meaning. A client treats a code it does not",
        "know as `error`.",
        "",
        "| error code | exit | class | meaning |",
        "|---|---|---|---|",
        *(
            f"| `{row.code}` | {row.exit_code} | `{row.kind.__name__}` | {row.meaning} |"
            for row in ERRORS
        ),
        "",
    ]
    return "\n".join(lines)
