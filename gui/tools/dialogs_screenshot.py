"""Pictures of the tray's dialogs on a real X display, each checked for widgets laid
over one another.

    python gui/tools/dialogs_screenshot.py OUTDIR

Starts two daemons on loopback ("laptop" sharing Documents with "desktop", linked),
Xvfb and wmdocker, then the tray app of the laptop in this process (the dialogs are
filled in from here). Each dialog is shown in a state with the most to lay out: the
invite dialog with a code made by the daemon, the join dialog with a code too short,
the add-a-folder dialog with the daemon's refusal of the device's home, the members
dialog with the desktop listed. In each, no two of the dialog's visible widgets may
intersect, each must lie inside the dialog, and a wrapped label must be tall enough
for all its lines (on X, with the fonts a desktop has, not Qt's offscreen metrics).
Then the screen is grabbed and the dialog saved as OUTDIR/NAME.png, and a line
printed per dialog. Exits 1 with one sentence when a check fails or something does
not come up. tests/gui/test_screenshot_xvfb.py runs it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # gui/: tools, p2psync_tray

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QWidget

from p2psync_tray.tray import TrayApp
from tools.daemon_down_screenshot import (
    MOMENT_S,
    POLL_S,
    run_events,
    wait_qt,
    window_geometry,
)
from tools.status_screenshot import (
    Screen,
    ScreenshotError,
    Stack,
    folder_of,
    make_device,
    p2psync,
    run_daemon,
    start_display,
)

SHORT_CODE = "ABCDEF-GHIJKL-XXXX"
SETTLE_S = 0.5


def laid_over(dialog: QDialog) -> str:
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


def picture(screen: Screen, dialog: QDialog) -> QImage:
    """The dialog as the screen shows it, once two grabs a moment apart are equal."""
    frames = [screen.grab()]
    while True:
        run_events(SETTLE_S)
        frames.append(screen.grab())
        if frames[-1] == frames[-2]:
            break
        if len(frames) > 20:
            raise ScreenshotError("the screen does not hold still")
    top_left = dialog.mapToGlobal(dialog.rect().topLeft())
    return frames[-1].copy(top_left.x(), top_left.y(), dialog.width(), dialog.height())


def shoot(out_dir: Path) -> list[str]:
    """Make every dialog's picture; return one line per dialog."""
    with tempfile.TemporaryDirectory(prefix="p2psync-shot-") as tmp, Stack() as stack:
        root = Path(tmp)
        laptop, desktop = make_device(root, "laptop"), make_device(root, "desktop")
        notes = {"notes.md": "# Notes\n", "todo.txt": "- book the train\n"}
        share = p2psync(laptop, "share", "add", str(folder_of(root, laptop, "Documents", notes)))
        empty = folder_of(root, desktop, "Documents", {})
        p2psync(desktop, "share", "add", str(empty), "--id", share)
        p2psync(laptop, "share", "member", "add", share, p2psync(desktop, "id"))
        p2psync(desktop, "share", "member", "add", share, p2psync(laptop, "id"))
        address = run_daemon(stack, laptop)
        run_daemon(stack, desktop)
        p2psync(desktop, "peer", "add", p2psync(laptop, "id"), address)
        display = start_display(stack, root)
        stack.start(["wmdocker", "-display", display, "-iconsize", "24"], root / "tray-host.log")
        os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        app = QApplication.instance() or QApplication([])
        tray = TrayApp(laptop, poll_s=POLL_S, moment_s=MOMENT_S)
        stack.callback(tray.stop)
        tray.start()
        wait_qt(lambda: _members_connected(tray, share), "the desktop to connect")
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
        del app
        return lines


Opened = tuple[QDialog, Callable[[], bool]]
"""A dialog opened and filled in, and when it shows what it was filled in with."""


def dialogs(
    tray: TrayApp, share: str, root: Path, home: Path
) -> list[tuple[str, Callable[[], Opened]]]:
    """Each dialog's name, and how to open and fill it in."""

    def invite() -> Opened:
        dialog = tray.open_invite(share)  # asks the daemon for a code
        return dialog, lambda: bool(dialog.code_box.toPlainText())

    def join() -> Opened:
        dialog = tray.open_join()
        dialog.code_box.setPlainText(SHORT_CODE)
        dialog.folder.setText(str(root / "joined"))
        return dialog, lambda: bool(dialog.verdict.text())

    def add_home() -> Opened:
        dialog = tray.open_add_share()
        dialog.folder.setText(str(home))
        dialog.add()  # refused: the folder holds the device's home
        return dialog, lambda: bool(dialog.outcome.text())

    def members() -> Opened:
        dialog = tray.open_members(share)
        if dialog is None:
            raise ScreenshotError(f"the tray knows no share {share}")
        return dialog, lambda: dialog.members.rowCount() == 1

    return [("invite", invite), ("join", join), ("add-share", add_home), ("members", members)]


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
