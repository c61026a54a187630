"""The tray's management actions carried out through its windows on a real X display,
each checked through the CLI (``dialogs_screenshot.py`` runs them after its pictures).

Each action presses the window's own buttons; a question or a name the tray asks in
a modal dialog (QInputDialog, QMessageBox) is answered in that dialog once it shows.
Then ``p2psync … --json`` must say the change: the device's name, a peer's display
name, a share paused and resumed, a member's mode, a folder added, then removed with
its files left on disk.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from p2psync_tray.tray import TrayApp
from tools.daemon_down_screenshot import wait_qt
from tools.status_screenshot import ScreenshotError, p2psync

ANSWER_TRY_MS = 100


def answer_modal(answer: Callable[[QInputDialog | QMessageBox], None]) -> None:
    """Answer the next modal dialog with ``answer`` once it shows (the button that
    opens it blocks in the dialog's own event loop)."""

    def attempt() -> None:
        modal = QApplication.activeModalWidget()
        if isinstance(modal, QInputDialog | QMessageBox) and modal.isVisible():
            answer(modal)
        else:
            QTimer.singleShot(ANSWER_TRY_MS, attempt)

    QTimer.singleShot(ANSWER_TRY_MS, attempt)


def type_and_accept(text: str) -> Callable[[QInputDialog | QMessageBox], None]:
    def answer(dialog: QInputDialog | QMessageBox) -> None:
        assert isinstance(dialog, QInputDialog)
        dialog.setTextValue(text)
        dialog.accept()

    return answer


def say_yes(dialog: QInputDialog | QMessageBox) -> None:
    assert isinstance(dialog, QMessageBox)
    yes = dialog.button(QMessageBox.StandardButton.Yes)
    assert yes is not None
    yes.click()


def cli_json(home: Path, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(p2psync(home, *args, "--json"))
    return found


def _status(home: Path) -> dict[str, Any]:
    return cli_json(home, "status")


def carry_out(tray: TrayApp, share: str, home: Path, root: Path) -> list[str]:
    """Every action, in order; one line each (``NAME: checked``). Raises
    ScreenshotError when the CLI does not say what the action did."""
    window = tray.window
    tray.show_window()
    lines = []

    def check(name: str, holds: Callable[[], bool]) -> None:
        wait_qt(holds, f"the CLI to say the tray's {name}")
        lines.append(f"{name}: checked")

    answer_modal(type_and_accept("laptop-x"))
    window.rename_button.click()
    check("rename", lambda: _status(home)["name"] == "laptop-x")

    peers = [r["device_id"] for r in window.peers.rows()]
    window.peers_view.selectRow(0)
    answer_modal(type_and_accept("the desk"))
    window.name_peer_button.click()

    def named() -> bool:
        rows = cli_json(home, "peers")["peers"]
        return any(r["device_id"] == peers[0] and r["display_name"] == "the desk" for r in rows)

    check("name a peer", named)

    def share_row() -> dict[str, Any]:
        return next(s for s in _status(home)["shares"] if s["id"] == share)

    window.shares_view.selectRow([r["id"] for r in window.shares.rows()].index(share))
    window.pause_share_button.click()
    check("pause a share", lambda: share_row()["paused"] is True)
    wait_qt(lambda: window.pause_share_button.text() == "Resume this share", "Resume")
    window.pause_share_button.click()
    check("resume a share", lambda: share_row()["paused"] is False)

    dialog = tray.dialogs.open_members(share)
    if dialog is None:
        raise ScreenshotError(f"the tray knows no share {share}")
    wait_qt(lambda: dialog.members.rowCount() > 0, "the members")
    member = str(dialog.members.rows()[0]["device_id"])
    dialog.view.selectRow(0)
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("receive-only"))
    dialog.set_button.click()
    check("set a mode", lambda: any(m["device_id"] == member and m["mode"] == "receive-only"
                                    for m in share_row()["members"]))  # fmt: skip
    dialog.close()

    folder = root / "photos"
    folder.mkdir()
    (folder / "keep.txt").write_text("stays on disk\n")
    adding = tray.dialogs.open_add_share()
    adding.folder.setText(str(folder))
    adding.add_button.click()
    wait_qt(lambda: adding.added is not None, "the folder to be added")
    added = str(adding.added["id"]) if adding.added else ""

    def listed() -> set[str]:
        return {str(s["id"]) for s in cli_json(home, "share", "list")["shares"]}

    check("add a folder", lambda: added in listed())
    adding.close()
    wait_qt(lambda: added in [r["id"] for r in window.shares.rows()], "the new share's row")
    window.shares_view.selectRow([r["id"] for r in window.shares.rows()].index(added))
    answer_modal(say_yes)
    window.remove_share_button.click()
    check("remove a share", lambda: added not in listed() and (folder / "keep.txt").exists())
    return lines
