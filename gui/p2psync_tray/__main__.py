"""Entry point of ``p2psync-tray``: parse the command line, make sure Qt loads, run
the Qt app (``app``).

Exit codes: 0 after Quit (or SIGINT/SIGTERM), 2 for a usage error, 5 when Qt cannot
be loaded (no PySide6: the install lacks the ``tray`` extra), said in one sentence.
This module imports no Qt, so ``--help``, ``--version`` and that sentence work on a
headless install too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import NoReturn

from p2psync import __version__

EXIT_USAGE = 2
EXIT_NO_QT = 5  # as `p2psync` exits for "any other error" (docs/reference/exit-codes.md)
NO_PYSIDE6 = "the tray needs PySide6: pip install 'p2psync[tray]'"
QT_PACKAGES = frozenset({"PySide6", "shiboken6"})


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one sentence, like the ``p2psync`` CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"p2psync-tray: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="p2psync-tray", description="Tray icon and status window of p2psync.")
    parser.add_argument("--version", action="version", version=f"p2psync-tray {__version__}")
    parser.add_argument("--home", type=Path, help="directory of this device (default: XDG)")
    parser.add_argument(
        "--open-status", action="store_true", help="open the status window at start"
    )
    parser.add_argument(
        "--open-history", metavar="SHARE", help="open the History window of SHARE (its ID)"
    )
    return parser


def qt_problem() -> str | None:
    """Why Qt cannot be loaded here, as one sentence, or None when it can."""
    try:
        import PySide6.QtWidgets  # noqa: F401, PLC0415  (the one Qt import to probe)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] in QT_PACKAGES:
            return NO_PYSIDE6
        return f"the tray cannot load Qt: {exc}"
    except ImportError as exc:  # PySide6 is there, a library it loads is not (libEGL...)
        return f"the tray cannot load Qt: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = qt_problem()
    if problem is not None:
        print(f"p2psync-tray: {problem}", file=sys.stderr)
        return EXIT_NO_QT
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from p2psync_tray.app import run  # noqa: PLC0415  (imports Qt: only once it loads)

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
