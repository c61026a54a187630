"""Screenshots of the status window telling that the daemon failed, on a real X
display with a real system tray host.

    python gui/tools/daemon_down_screenshot.py --failed-start OUT.png
    python gui/tools/daemon_down_screenshot.py --crash OUT.png

Starts Xvfb and wmdocker, then the tray app of a new device home in this process
(its **Start daemon** is pressed from here: nothing outside the app can press it on a
bare X display) with its status window open; the picture waits for the notification
balloon over it to go. ``--failed-start``: the home's config names the device with a
number, so the daemon the tray starts exits with 2.
``--crash``: the daemon the tray starts comes up, then is killed (SIGKILL). Once the
window tells it, the window's header must not lay the sentence over the Start daemon
button (their geometries are compared), the screen is grabbed, the window cut out
and saved as OUT.png, and the sentence printed. Exits 1 with one sentence when
something is missing or does not come up. tests/gui/test_screenshot_xvfb.py runs it.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # gui/: tools, p2psync_tray

from PySide6.QtCore import QCoreApplication, QRect
from PySide6.QtWidgets import QApplication, QWidget

from p2psync_tray.state import TrayState
from p2psync_tray.tray import MESSAGE_MS, TrayApp
from tools.status_screenshot import (
    DEADLINE_S,
    Screen,
    ScreenshotError,
    Stack,
    make_device,
    settled_window,
    start_display,
)

POLL_S = 0.2
MOMENT_S = 0.3
GONE_S = MESSAGE_MS / 1000 + 1.0
"""Events processed after the sentence shows: the window is drawn and the notification
balloon (Qt's own on X11, over the window) has gone."""


def wait_qt(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` while Qt's events run (the tray lives in this process)."""
    end = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > end:
            raise ScreenshotError(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.02)


def run_events(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)


def window_geometry(widget: QWidget) -> QRect:
    """``widget``'s rectangle in its window's coordinates."""
    return QRect(widget.mapTo(widget.window(), widget.rect().topLeft()), widget.size())


def shoot(out: Path, *, crash: bool) -> tuple[int, int, str]:
    """Make the picture; return its size and the sentence the window showed."""
    with tempfile.TemporaryDirectory(prefix="p2psync-shot-") as tmp, Stack() as stack:
        root = Path(tmp)
        home = make_device(root, "laptop")
        if not crash:
            (home / "config.toml").write_text("[device]\nname = 5\n")  # refused at start
        display = start_display(stack, root)
        stack.start(["wmdocker", "-display", display, "-iconsize", "24"], root / "tray-host.log")
        os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        app = QApplication.instance() or QApplication([])
        tray = TrayApp(home, poll_s=POLL_S, moment_s=MOMENT_S)
        stack.callback(_stop, tray)
        tray.start()
        tray.show_window()
        wait_qt(lambda: tray.shown_state is TrayState.NOT_RUNNING, "the tray to find no daemon")
        tray.start_daemon()
        if crash:
            wait_qt(lambda: tray.snapshot is not None, "the daemon the tray started")
            process = tray.daemon_process
            if process is None:
                raise ScreenshotError("the tray started no daemon")
            process.send_signal(signal.SIGKILL)
        told = "The daemon crashed" if crash else "The daemon did not start"
        window = tray.window
        wait_qt(lambda: window.detail.text().startswith(told), f"the window to say {told!r}")
        run_events(GONE_S)
        if window_geometry(window.detail).intersects(window_geometry(window.start_button)):
            raise ScreenshotError("the sentence is laid over the Start daemon button")
        if not window.start_button.isVisible():
            raise ScreenshotError("the window offers no Start daemon to try again")
        image, (x, y, w, h) = settled_window(Screen(display))
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.copy(x, y, w, h).save(str(out)):
            raise ScreenshotError(f"could not write {out}")
        del app
        return w, h, window.detail.text()


def _stop(tray: TrayApp) -> None:
    tray.stop()
    process = tray.daemon_process
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("--failed-start", "--crash"):
        print("usage: daemon_down_screenshot.py --failed-start|--crash OUT.png", file=sys.stderr)
        return 2
    try:
        width, height, sentence = shoot(Path(argv[1]), crash=argv[0] == "--crash")
    except (ScreenshotError, OSError) as exc:
        print(f"daemon_down_screenshot: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[1]}: {width}x{height}")
    print(sentence)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
