"""Entry point of ``p2psync-tray``: parse the command line, run the Qt app.

Exit codes: 0 after Quit (or SIGINT/SIGTERM), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import NoReturn

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from p2psync import __version__
from p2psync_tray.icons import app_icon
from p2psync_tray.tray import TrayApp

log = logging.getLogger("p2psync_tray")

EXIT_USAGE = 2
SIGNAL_POLL_MS = 200  # lets Python run its signal handlers while Qt's loop runs


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = QApplication(sys.argv[:1])
    app.setApplicationName("p2psync-tray")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    tray = TrayApp(args.home)
    # Installed before start() logs the first state, so whoever waits for that line may
    # stop us at once; quit runs from the event loop, which may not be running yet.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: QTimer.singleShot(0, tray.quit))
    tray.start()
    if not QSystemTrayIcon.isSystemTrayAvailable():
        log.warning("no system tray on this desktop: showing the status window instead")
        tray.window.hidden.connect(tray.quit)
        tray.show_window()
    elif args.open_status:
        tray.show_window()
    wakeup = QTimer()
    wakeup.timeout.connect(lambda: None)
    wakeup.start(SIGNAL_POLL_MS)
    code = app.exec()
    tray.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
