"""Entry point of ``p2psync``: parse, dispatch, and turn errors into one sentence.

The parser (``cli.parser``) is built from a table of the commands and imports a
command's module only once that command is chosen. ``status`` and ``peers``, what
scripts poll, are read without it when their command line is one of a few plain forms
(``shortcut``): importing argparse and building the parser were a tenth of ``p2psync
status --json``'s time (docs/benchmarks.md, "CLI start").

The exit codes, and which error gets which, are the table in control/errorcodes.py
(docs/reference/exit-codes.md is made from it): 0 success, 1 failure reported by the
command, 2 usage error, 3 no daemon running, 4 a log or file could not be read or
written, 5 other p2psync error, 130 interrupted, 141 the reader of our output went away.
"""

from __future__ import annotations

import errno
import os
import sys
from functools import partial
from pathlib import Path

from p2psync.cli.context import Context
from p2psync.control.errorcodes import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_STORAGE,
    EXIT_USAGE,
    exit_code,
)
from p2psync.control.home import Home
from p2psync.errors import P2PSyncError, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (control/home.py)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SHORTCUTS = ("status", "peers")
"""The commands ``shortcut`` reads: ``p2psync.cli.status``'s, each with ``--json`` only."""


def shortcut(argv: Sequence[str]) -> tuple[Path | None, str, bool] | None:
    """``[--home DIR | --home=DIR] status|peers [--json]``, read as the parser reads it,
    as ``(home, command, json)``: what ``--home`` gives (None without it), the command,
    whether ``--json`` is given. None for any other command line, the parser's to read:
    other commands and options, help, abbreviations (``--js``), a ``DIR`` that is empty
    or starts with ``-``, anything out of this order; so usage errors and help are
    the parser's alone."""
    rest = list(argv)
    home: Path | None = None
    if rest[:1] == ["--home"] and len(rest) > 1 and _plain(rest[1]):
        home, rest = Path(rest[1]), rest[2:]
    elif rest and rest[0].startswith("--home=") and _plain(rest[0].removeprefix("--home=")):
        home, rest = Path(rest[0].removeprefix("--home=")), rest[1:]
    if not rest or rest[0] not in SHORTCUTS or any(arg != "--json" for arg in rest[1:]):
        return None
    return home, rest[0], "--json" in rest


def _plain(value: str) -> bool:
    """Whether the parser takes ``value`` as ``--home``'s, whatever its options: not
    empty, and not starting with ``-`` (which it may read as an option instead)."""
    return value != "" and not value.startswith("-")


def _parse(argv: Sequence[str]) -> tuple[Path | None, Callable[[Context], int]]:
    """The home given with ``--home`` (None without it) and the command to run with
    the context made from it."""
    if (quick := shortcut(argv)) is not None:
        from p2psync.cli import status  # noqa: PLC0415 - as the parser would, once chosen

        home, command, as_json = quick
        show = status.show_status if command == "status" else status.show_peers
        return home, partial(show, as_json=as_json)
    from p2psync.cli.parser import build_parser  # noqa: PLC0415 - argparse: not for a shortcut

    args = build_parser().parse_args(argv)
    return args.home, partial(args.func, args)


def check_home(home: Home) -> None:
    """Refuse a home that can be no directory: it, or a folder it would be made in, is
    a file. Every command reads or makes files in the home, and the error the first
    of them would meet (``Not a directory``) names no path."""
    for path in (home.root, *home.root.parents):
        if not os.path.lexists(path):
            continue
        if path.is_dir():
            return
        if path == home.root:
            raise UsageError(f"the home {path} is a file, not a directory (see 'p2psync --help')")
        raise UsageError(
            f"the home {home.root} cannot be made: {path} is a file, not a directory"
            " (see 'p2psync --help')"
        )


def main(argv: list[str] | None = None) -> int:
    home, run = _parse(sys.argv[1:] if argv is None else argv)
    ctx = Context(Home.resolve(home))
    try:
        check_home(ctx.home)
        code = run(ctx)
    except KeyboardInterrupt:
        print("p2psync: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except P2PSyncError as exc:
        print(f"p2psync: {exc}", file=sys.stderr)
        return exit_code(exc)
    except BrokenPipeError:
        # Whoever read our output went away (``p2psync peers | head``): say nothing,
        # and keep the interpreter from complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # a file named on the command line cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"p2psync: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        # A name longer than the file system takes is a bad argument, not a failing disk.
        return EXIT_USAGE if exc.errno == errno.ENAMETOOLONG else EXIT_STORAGE
    return code
