"""The tray's History window against real daemons: files (deleted ones too), a file's
versions, a coloured diff, Restore after a confirmation, checked through the CLI; and
its layout (no widget laid over another at 1024x768)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pycrdt
import pytest
from PySide6.QtWidgets import QMessageBox, QTextEdit
from pytestqt.qtbot import QtBot

from p2psync_tray.describe import format_bytes
from p2psync_tray.history import (
    ADDED_STYLE,
    REMOVED_STYLE,
    HistoryWindow,
    diff_html,
    no_text_sentence,
)
from p2psync_tray.state import TrayState
from p2psync_tray.tray import TrayApp
from tests.support.daemons import cli, wait_for
from tests.support.tray import WAIT_MS, Pair, find_action, select_share
from tests.support.widgets import rect_in, settle

FIRST = "title\n\nfirst draft\n"
SECOND = "title\n\nsecond draft\n"
GONE = "a file that will be deleted\n"


def _versions(pair: Pair, name: str) -> list[Any]:
    result = cli(pair.a.home, "history", str(pair.a.folder / name), "--json", check=False)
    versions: list[Any] = json.loads(result.stdout)["versions"] if result.returncode == 0 else []
    return versions


def _answer(monkeypatch: pytest.MonkeyPatch, answer: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def question(_parent: Any, _title: str, text: str, *_args: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def _file_row(window: HistoryWindow, path: str) -> int:
    return [r["path"] for r in window.files.rows()].index(path)


def test_history_window_shows_versions_and_restores(
    qtbot: QtBot, pair: Pair, tray: TrayApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair.a, pair.b
    (a.folder / "notes.md").write_text(FIRST)
    (a.folder / "old.md").write_text(GONE)
    wait_for((b.folder / "notes.md").exists, "notes.md at beta")
    wait_for((b.folder / "old.md").exists, "old.md at beta")
    (b.folder / "notes.md").write_text(SECOND)  # by beta: a version of its own at alpha
    wait_for(lambda: len(_versions(pair, "notes.md")) == 2, "beta's edit as a version")
    (b.folder / "old.md").unlink()
    wait_for(lambda: not (a.folder / "old.md").exists(), "old.md deleted at alpha")
    wait_for(lambda: _versions(pair, "old.md")[0]["kind"] == "delete", "the deletion")

    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    select_share(tray, pair.share)
    tray.window.history_button.click()
    history = tray.dialogs.history
    assert history is not None
    assert history.isVisible()
    qtbot.waitUntil(lambda: history.files.rowCount() == 2, timeout=WAIT_MS)
    assert [history.files.text(r, 0) for r in range(2)] == ["notes.md", "old.md"]
    assert history.files.text(1, 1).startswith("deleted")

    # notes.md is picked first, and its version before the newest (the last change)
    qtbot.waitUntil(lambda: history.versions.rowCount() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "first draft" in history.diff_view.toPlainText(), timeout=WAIT_MS)
    assert history.selected_version() == 1
    assert history.versions.text(0, 2) == "changed by a peer"
    assert history.versions.text(1, 3) == "this device"
    assert "-first draft" in history.diff_view.toPlainText()
    assert "+second draft" in history.diff_view.toPlainText()
    assert history.restore_button.isEnabled()

    # Cancel changes nothing; Yes restores, as a new edit
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    history.restore_button.click()
    assert "version 1" in asked[0]
    assert (a.folder / "notes.md").read_text() == SECOND
    _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    history.restore_button.click()
    qtbot.waitUntil(lambda: "back to version 1" in history.outcome.text(), timeout=WAIT_MS)
    wait_for(lambda: (a.folder / "notes.md").read_text() == FIRST, "the restore at alpha")
    wait_for(lambda: (b.folder / "notes.md").read_text() == FIRST, "the restore at beta")
    assert _versions(pair, "notes.md")[0]["kind"] == "restore"
    qtbot.waitUntil(lambda: history.versions.rowCount() == 3, timeout=WAIT_MS)
    cli(a.home, "restore", str(a.folder / "notes.md"), "--version", "2")  # elsewhere: the CLI
    qtbot.waitUntil(lambda: history.versions.rowCount() == 4, timeout=WAIT_MS)

    # the deleted file: its deletion cannot be restored, the version before it can
    history.files_view.selectRow(_file_row(history, "old.md"))
    qtbot.waitUntil(lambda: history.versions.rowCount() == 2, timeout=WAIT_MS)
    history.versions_view.selectRow(0)
    assert history.versions.text(0, 2) == "deleted"
    assert not history.restore_button.isEnabled()
    history.versions_view.selectRow(1)
    assert history.restore_button.isEnabled()
    history.restore_button.click()
    qtbot.waitUntil((a.folder / "old.md").exists, timeout=WAIT_MS)
    assert (a.folder / "old.md").read_text() == GONE
    wait_for((b.folder / "old.md").exists, "old.md back at beta")
    qtbot.waitUntil(lambda: history.files.text(1, 1) == "", timeout=WAIT_MS)

    tray.fill_menu()
    find_action(tray.menu, "History…").trigger()  # the first share's submenu
    assert tray.snapshot is not None
    assert tray.dialogs.history is not None
    assert tray.dialogs.history.share_id == tray.snapshot.status["shares"][0]["id"]


PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
EDITED = PICTURE[:40] + b"\x00by beta\x00" + PICTURE[40:]


def test_history_window_lists_and_restores_binary_files_and_lists_app_docs(
    qtbot: QtBot, pair: Pair, tray: TrayApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair.a, pair.b
    (a.folder / "image.png").write_bytes(PICTURE)
    app_doc: pycrdt.Doc[Any] = pycrdt.Doc()
    app_doc.get("cards", type=pycrdt.Map)["a"] = 1
    (a.folder / "board.ydoc").write_bytes(app_doc.get_update())
    wait_for(lambda: _holds(b.folder / "image.png", PICTURE), "image.png at beta")
    (b.folder / "image.png").write_bytes(EDITED)  # by beta: a version of its own at alpha
    wait_for(lambda: len(_versions(pair, "image.png")) == 2, "beta's save as a version")
    wait_for(lambda: len(_versions(pair, "board.ydoc")) == 1, "the app doc's version")

    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    select_share(tray, pair.share)
    tray.window.history_button.click()
    history = tray.dialogs.history
    assert history is not None
    qtbot.waitUntil(lambda: history.files.rowCount() == 2, timeout=WAIT_MS)
    assert [history.files.text(r, 0) for r in range(2)] == ["board.ydoc", "image.png"]
    assert [history.files.text(r, 1) for r in range(2)] == ["app doc", "binary file"]

    # the binary file: its versions with their sizes, no diff but one sentence, Restore
    history.files_view.selectRow(_file_row(history, "image.png"))
    qtbot.waitUntil(lambda: history.versions.rowCount() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: history.selected_version() == 1, timeout=WAIT_MS)
    assert history.versions.text(0, 4) == format_bytes(len(EDITED))
    assert history.versions.text(1, 4) == format_bytes(len(PICTURE))
    assert history.versions.text(0, 5) == "whole file"
    said = history.diff_view.toPlainText()
    assert said == no_text_sentence("image.png", "binary")
    # a sentence, wrapped to the view (a diff's lines are not wrapped)
    assert history.diff_view.lineWrapMode() == QTextEdit.LineWrapMode.WidgetWidth
    assert said.count(". ") == 0
    assert said.endswith(".")
    assert history.restore_button.isEnabled()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    history.restore_button.click()
    assert "binary file is not merged" in asked[0]
    qtbot.waitUntil(lambda: "back to version 1" in history.outcome.text(), timeout=WAIT_MS)
    wait_for(lambda: _holds(a.folder / "image.png", PICTURE), "the restore at alpha")
    wait_for(lambda: _holds(b.folder / "image.png", PICTURE), "the restore at beta")
    assert _versions(pair, "image.png")[0]["kind"] == "restore"
    qtbot.waitUntil(lambda: history.versions.rowCount() == 3, timeout=WAIT_MS)

    # the app doc: its version listed, no diff but one sentence, no Restore
    history.files_view.selectRow(_file_row(history, "board.ydoc"))
    qtbot.waitUntil(lambda: history.versions.rowCount() == 1, timeout=WAIT_MS)
    history.versions_view.selectRow(0)
    assert history.versions.text(0, 2) == "create"
    assert history.diff_view.toPlainText() == no_text_sentence("board.ydoc", "ydoc")
    assert not history.restore_button.isEnabled()


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def test_diff_lines_are_coloured() -> None:
    shown = diff_html("--- a\n+++ b\n@@ -1 +1 @@\n-old <line>\n+new & line\n same\n")
    assert f'<span style="{REMOVED_STYLE}">-old &lt;line&gt;</span>' in shown
    assert f'<span style="{ADDED_STYLE}">+new &amp; line</span>' in shown
    assert "same text as the file now" in diff_html("")


class _QuietLink:
    """A link whose calls never answer (the layout test asks nothing of a daemon)."""

    def ask(self, *_args: Any, **_kwargs: Any) -> object:
        return object()


def test_history_window_widgets_are_not_laid_over_each_other(qtbot: QtBot) -> None:
    share = {"id": "s7x2kq4m9a", "path": "/home/ana/Documents/thesis"}
    window = HistoryWindow(_QuietLink(), share)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    window.resize(1024, 768 - 40)
    window.show()
    window._files_came({"files": [{"path": f"chapter-{n}.md", "kind": "text"} for n in range(30)]})
    window._failed("share s7x2kq4m9a has no file 'x': it was renamed meanwhile, pick it again")
    settle()
    parts = [window.intro, window.files_view, window.versions_view, window.diff_view,
             window.outcome, window.refresh_button, window.restore_button]  # fmt: skip
    rects = [rect_in(w, window) for w in parts]
    for i, one in enumerate(rects):
        assert window.rect().contains(one), (parts[i], one)
        for other in rects[i + 1 :]:
            assert not one.intersects(other), (one, other)
    assert window.outcome.height() >= window.outcome.heightForWidth(window.outcome.width())
    assert window.diff_view.height() >= 150
    assert window.files_view.viewport().height() >= 5 * window.files_view.rowHeight(0)
