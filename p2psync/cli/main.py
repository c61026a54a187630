"""Entry point of ``p2psync``: parse, dispatch, and turn errors into one sentence.

The exit codes, and which error gets which, are the table in control/errorcodes.py
(docs/reference/exit-codes.md is made from it): 0 success, 1 failure reported by the
command, 2 usage error, 3 no daemon running, 4 a log or file could not be read or
written, 5 other p2psync error, 130 interrupted, 141 the reader of our output went away.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from p2psync import __version__
from p2psync.cli import (
    compact,
    conflicts,
    demo,
    doc,
    doctor,
    events,
    ident,
    invite,
    name,
    pause,
    peer,
    run,
    service,
    shares,
    status,
    wait,
)
from p2psync.cli.context import Context
from p2psync.control.errorcodes import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_STORAGE,
    EXIT_USAGE,
    exit_code,
)
from p2psync.control.home import Home
from p2psync.errors import P2PSyncError

# Each module adds its subcommands with ``register(commands)``; help lists them in
# this order. A new command group is one module and one entry here.
COMMAND_MODULES = (
    ident,
    name,
    run,
    shares,
    invite,
    peer,
    status,
    conflicts,
    wait,
    pause,
    events,
    doc,
    compact,
    doctor,
    demo,
    service,
)


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one sentence (subcommand parsers inherit it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"p2psync: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="p2psync", description="Serverless LAN document sync.")
    parser.add_argument("--version", action="version", version=f"p2psync {__version__}")
    parser.add_argument("--home", type=Path, help="directory of this device (default: XDG)")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ctx = Context(Home.resolve(args.home))
    try:
        code: int = args.func(args, ctx)
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
        return EXIT_STORAGE
    return code
