"""Pictures of the tray's status window and dialogs on a real X display, each checked
for widgets laid over one another.

    python gui/tools/dialogs_screenshot.py OUTDIR

Starts the four daemons of status_screenshot.py (``devices``: "laptop" sharing
Documents with "desktop" and "nas", Projects with "studio"; the laptop's apps
endpoint on), Xvfb and wmdocker, then the tray app of the laptop in this process (the
windows are filled in from here). First the status window at 1024x728 (a 1024x768
screen with a panel): every row of its peers and shares tables inside its view, room
for several recent events. Then each dialog in a state with the most to lay out: the
invite dialog with a code made by the daemon, the join dialog with a code too short,
the add-a-folder dialog with the daemon's refusal of the device's home, the members
dialog with Documents' two other members. Last, the status window with Documents
selected while two real y-websocket clients (``tools/app_client.py``) are connected
to its notes.md through the laptop's apps endpoint: its listing must say which file
and how many apps. In each window no two of its visible widgets may intersect, each
must lie inside it, and a wrapped label must be tall enough for all its lines (on X,
with the fonts a desktop has, not Qt's offscreen metrics). Then the screen is grabbed
and the window saved as OUTDIR/NAME.png, and a line printed per window (the apps
window's with its listing's words). Exits 1 with one sentence when a check fails or
something does not come up. Then the management actions, through the windows and
checked through the CLI (``tools.actions_on_x``), a line each.
tests/gui/test_screenshot_xvfb.py runs it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # gui/: tools, p2psync_tray

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from p2psync_tray.tray import TrayApp
from p2psync_tray.window import StatusWindow
from tools.actions_on_x import carry_out
from tools.daemon_down_screenshot import (
    MOMENT_S,
    POLL_S,
    run_events,
    wait_qt,
    window_geometry,
)
from tools.status_screenshot import (
    DEADLINE_S,
    Screen,
    ScreenshotError,
    Stack,
    devices,
    p2psync,
    start_display,
)

SHORT_CODE = "ABCDEF-GHIJKL-XXXX"
SMALL_SCREEN = (1024, 768 - 40)  # a 1024x768 screen, a panel taking its share
PEERS = ("desktop", "nas", "studio")  # status_screenshot.devices
DOCUMENTS_MEMBERS = ("desktop", "nas")
EVENT_ROWS = 4
APPS = 2  # app clients connected to notes.md for the apps picture
SETTLE_S = 0.5


def laid_over(dialog: QWidget) -> str:
    """What is wrong with ``dialog``'s layout, in words ("" if nothing): two visible
    widgets of it that intersect, one outside it, a wrapped label cut short."""
    parts = [w for w in dialog.findChildren(QWidget) if w.parent() is dialog and w.isVisible()]
    rects = [window_geometry(w) for w in parts]
    inside = dialog.rect()
    for i, (widget, rect) in enumerate(zip(parts, rects, strict=True)):
        name = _name(widget)
        if not inside.contains(rect):
            return f"{name} reaches outside the dialog"
        for other, other_rect in zip(parts[i + 1 :], rects[i + 1 :], strict=True):
            if rect.intersects(other_rect):
                return f"{name} is laid over {_name(other)}"
        if isinstance(widget, QLabel) and widget.wordWrap() and _cut_short(widget, rect):
            return f"{name} is cut short"
    return ""


def _cut_short(label: QLabel, rect: QRect) -> bool:
    """A wrapped label laid out shorter than its lines need."""
    return bool(label.text()) and rect.height() < label.heightForWidth(rect.width())


def _name(widget: QWidget) -> str:
    text = widget.text() if isinstance(widget, QLabel) else ""
    return f"{type(widget).__name__} {text[:40]!r}" if text else type(widget).__name__


def picture(screen: Screen, dialog: QWidget) -> QImage:
    """The dialog as the screen shows it, once two grabs a moment apart are equal."""
    frames = [screen.grab()]
    end = time.monotonic() + DEADLINE_S  # the status window's rates settle within seconds
    while True:
        run_events(SETTLE_S)
        frames.append(screen.grab())
        if frames[-1] == frames[-2]:
            break
        if time.monotonic() > end:
            raise ScreenshotError("the screen does not hold still")
    top_left = dialog.mapToGlobal(dialog.rect().topLeft())
    return frames[-1].copy(top_left.x(), top_left.y(), dialog.width(), dialog.height())


def shoot(out_dir: Path) -> list[str]:
    """Make every dialog's picture; return one line per dialog."""
    with tempfile.TemporaryDirectory(prefix="p2psync-shot-") as tmp, Stack() as stack:
        root = Path(tmp)
        laptop, _ = devices(stack, root, apps=True)
        status = json.loads(p2psync(laptop, "status", "--json"))
        (share,) = [s["id"] for s in status["shares"] if s["path"].endswith("-Documents")]
        display = start_display(stack, root)
        stack.start(["wmdocker", "-display", display, "-iconsize", "24"], root / "tray-host.log")
        os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        app = QApplication.instance() or QApplication([])
        tray = TrayApp(laptop, poll_s=POLL_S, moment_s=MOMENT_S)
        stack.callback(tray.stop)
        tray.start()
        wait_qt(lambda: _members_connected(tray, share), "the peers to connect")
        screen = Screen(display)
        lines = []
        for name, open_it in dialogs(tray, share, root, laptop):
            dialog, ready = open_it()
            wait_qt(ready, f"the {name} dialog to fill in")
            run_events(SETTLE_S)
            wrong = laid_over(dialog)
            if wrong:
                raise ScreenshotError(f"in the {name} dialog, {wrong}")
            image = picture(screen, dialog)
            out = out_dir / f"{name}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            if not image.save(str(out)):
                raise ScreenshotError(f"could not write {out}")
            lines.append(f"{out.name}: {image.width()}x{image.height()}")
            dialog.close()
            run_events(SETTLE_S)
        lines.append(apps_window(tray, share, stack=stack, root=root, home=laptop,
                                 screen=screen, out_dir=out_dir))  # fmt: skip
        lines += carry_out(tray, share, laptop, root)
        del app
        return lines


def apps_window(
    tray: TrayApp, share: str, *, stack: Stack, root: Path, home: Path, screen: Screen,
    out_dir: Path,
) -> str:  # fmt: skip
    """The status window with Documents selected while real apps are connected to
    notes.md through the laptop's apps endpoint (``tools/app_client.py``): its listing
    must say which file and how many apps. Saved as OUTDIR/apps.png; the line says
    the listing's words."""
    snapshot = tray.snapshot
    if snapshot is None:
        raise ScreenshotError("the tray has no status of its daemon")
    path = next(Path(s["path"]) for s in snapshot.status["shares"] if s["id"] == share)
    url = json.loads(p2psync(home, "doc", "url", str(path / "notes.md"), "--json"))["url"]
    client = Path(__file__).with_name("app_client.py")
    for number in range(APPS):
        log = root / f"app-{number}.log"
        stack.start([sys.executable, str(client), url, str(100 + number)], log)
        wait_qt(partial(_says, log, "synced"), f"app {number} to sync")
    window = tray.window
    window.resize(*SMALL_SCREEN)
    tray.show_window()
    rows = [r["id"] for r in window.shares.rows()]
    window.shares_view.selectRow(rows.index(share))
    expected = f"Open in apps: notes.md ({APPS} apps connected)"
    wait_qt(lambda: window.share_detail.text() == expected, "the apps in the share's listing")
    run_events(SETTLE_S)
    wrong = laid_over(window)
    if wrong:
        raise ScreenshotError(f"in the status window with apps, {wrong}")
    image = picture(screen, window)
    out = out_dir / "apps.png"
    if not image.save(str(out)):
        raise ScreenshotError(f"could not write {out}")
    return f"{out.name}: {image.width()}x{image.height()}: {window.share_detail.text()}"


Opened = tuple[QWidget, Callable[[], bool]]
"""A window opened and filled in, and when it shows what it was filled in with."""


def dialogs(
    tray: TrayApp, share: str, root: Path, home: Path
) -> list[tuple[str, Callable[[], Opened]]]:
    """Each window's name, and how to open and fill it in."""

    def status_window() -> Opened:
        window = tray.window
        window.resize(*SMALL_SCREEN)
        tray.show_window()
        return window, lambda: window.peers.rowCount() == len(PEERS) and _all_rows_shown(window)

    def invite() -> Opened:
        dialog = tray.dialogs.open_invite(share)  # asks the daemon for a code
        return dialog, lambda: bool(dialog.code_box.toPlainText())

    def join() -> Opened:
        dialog = tray.dialogs.open_join()
        dialog.code_box.setPlainText(SHORT_CODE)
        dialog.folder.setText(str(root / "joined"))
        return dialog, lambda: bool(dialog.verdict.text())

    def add_home() -> Opened:
        dialog = tray.dialogs.open_add_share()
        dialog.folder.setText(str(home))
        dialog.add()  # refused: the folder holds the device's home
        return dialog, lambda: bool(dialog.outcome.text())

    def members() -> Opened:
        dialog = tray.dialogs.open_members(share)
        if dialog is None:
            raise ScreenshotError(f"the tray knows no share {share}")
        return dialog, lambda: dialog.members.rowCount() == len(DOCUMENTS_MEMBERS)

    return [
        ("status-window", status_window),
        ("invite", invite),
        ("join", join),
        ("add-share", add_home),
        ("members", members),
    ]


def _says(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text()


def _all_rows_shown(window: StatusWindow) -> bool:
    """Every row of the peers and shares tables inside its view, and the recent events
    given room for several rows."""
    for view in (window.peers_view, window.shares_view):
        shown = view.viewport().rect()
        rows = range(view.model().rowCount())
        if not all(shown.contains(view.visualRect(view.model().index(r, 0))) for r in rows):
            return False
    events = window.events_view
    return events.viewport().height() >= EVENT_ROWS * events.verticalHeader().defaultSectionSize()


def _members_connected(tray: TrayApp, share: str) -> bool:
    snapshot = tray.snapshot
    if snapshot is None:
        return False
    rows = [s for s in snapshot.status["shares"] if s["id"] == share]
    return bool(rows) and rows[0]["peers_connected"] != []


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: dialogs_screenshot.py OUTDIR", file=sys.stderr)
        return 2
    try:
        lines = shoot(Path(argv[0]))
    except (ScreenshotError, OSError) as exc:
        print(f"dialogs_screenshot: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
