"""The Qt app of ``p2psync-tray``: the QApplication, the tray and their event loop.

Only ``__main__`` imports this, after it has made sure Qt loads (the tray extra).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from p2psync_tray.icons import app_icon
from p2psync_tray.tray import TrayApp

log = logging.getLogger("p2psync_tray")

SIGNAL_POLL_MS = 200  # lets Python run its signal handlers while Qt's loop runs


def open_history_when_known(tray: TrayApp, share: str) -> QTimer:
    """Open the History window of ``share`` once a snapshot names it (a timer of the
    Qt thread, which the window must be made in)."""
    timer = QTimer(tray)

    def try_open() -> None:
        if tray.dialogs.open_history(share) is not None:
            timer.stop()

    timer.timeout.connect(try_open)
    timer.start(SIGNAL_POLL_MS)
    return timer


def run(args: argparse.Namespace) -> int:
    """Run the tray for the parsed command line until Quit, SIGINT or SIGTERM."""
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
    opener = open_history_when_known(tray, args.open_history) if args.open_history else None
    wakeup = QTimer()
    wakeup.timeout.connect(lambda: None)
    wakeup.start(SIGNAL_POLL_MS)
    code = app.exec()
    del opener
    tray.stop()
    return code
