"""The invite and join dialogs: ``invite`` and ``join`` of the control API, with words.

The invite dialog asks the daemon for a one-time code for a share and shows it as
``p2psync invite`` prints it, with its expiry and a Copy button. The join dialog
checks a pasted code as it is typed (``invitecheck``, the daemon's own parser), so a
typo is told in words and never sent; Join asks the daemon to dial the inviter and
shows a busy bar until it answers. Both reach the daemon only through ``DaemonLink``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from p2psync_tray.describe import as_sentence, format_until, share_label
from p2psync_tray.invitecheck import check_code, join_timeout_s
from p2psync_tray.link import DaemonLink, Reply

ERROR_STYLE = "color: #b00020"
GOOD_STYLE = "color: #1b5e20"
CODE_LINES = 4


def _code_box(read_only: bool) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setReadOnly(read_only)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    box.setFixedHeight(box.fontMetrics().lineSpacing() * CODE_LINES + 12)
    return box


def _message() -> QLabel:
    label = QLabel("")
    label.setWordWrap(True)
    return label


def fit_height(dialog: QWidget) -> None:
    """Make ``dialog`` at least as tall as its contents at its width. A message that
    wraps onto more lines needs more height than the layout's minimum says (Qt does
    not grow a window for a height-for-width label), and without it the layout
    squeezes the labels over the code box above them."""
    layout = dialog.layout()
    if layout is None:
        return
    layout.activate()
    width = dialog.width()
    need = (layout.totalHeightForWidth(width) if layout.hasHeightForWidth()
            else layout.totalMinimumSize().height())  # fmt: skip
    dialog.setMinimumHeight(need)
    if dialog.height() < need:
        dialog.resize(width, need)


def _say(label: QLabel, sentence: str, *, error: bool) -> None:
    label.setText(sentence)
    label.setStyleSheet(ERROR_STYLE if error else GOOD_STYLE)
    fit_height(label.window())


class InviteDialog(QDialog):
    """Makes an invite code for one of this device's shares."""

    def __init__(
        self,
        link: DaemonLink,
        shares: Sequence[Mapping[str, Any]],
        share_id: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Invite a device")
        self._link = link
        self._reply: Reply | None = None
        self.code = ""
        self.share_box = QComboBox()
        for share in shares:
            self.share_box.addItem(
                f"{share_label(share)} ({share.get('path', '')})", str(share.get("id", ""))
            )
        if share_id:
            self.share_box.setCurrentIndex(max(0, self.share_box.findData(share_id)))
        self.make_button = QPushButton("Make invite code")
        self.make_button.clicked.connect(self.make_invite)
        self.code_box = _code_box(read_only=True)
        self.expiry = _message()
        self.error = _message()
        self.copy_button = QPushButton("Copy")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_code)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        picker = QHBoxLayout()
        picker.addWidget(self.share_box, 1)
        picker.addWidget(self.make_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Share:"))
        layout.addLayout(picker)
        layout.addWidget(QLabel("Invite code (give it to the new device; it works once):"))
        layout.addWidget(self.code_box)
        layout.addWidget(self.expiry)
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        if not shares:
            _say(self.error, "This device holds no share to invite to.", error=True)
            self.make_button.setEnabled(False)

    def make_invite(self) -> None:
        share = str(self.share_box.currentData() or "")
        if not share:
            return
        self.error.setText("")
        self._show_code("", 0)  # a new code replaces the one shown
        self.make_button.setEnabled(False)
        self._reply = self._link.ask(
            f"invite a device to {share}", "invite",
            on_done=self._made, on_failed=self._failed, share=share,
        )  # fmt: skip

    def copy_code(self) -> None:
        QApplication.clipboard().setText(self.code)

    def _made(self, result: Mapping[str, Any]) -> None:
        self._show_code(str(result.get("code", "")), float(result.get("expires", 0)))
        self.make_button.setEnabled(True)

    def _show_code(self, code: str, expires: float) -> None:
        self.code = code
        self.code_box.setPlainText(code)
        self.expiry.setText(
            f"One use, until {format_until(expires)}. On the new device: “Join a share…” "
            "in its tray, or p2psync join CODE PATH."
            if code
            else ""
        )
        self.copy_button.setEnabled(bool(code))
        fit_height(self)

    def _failed(self, why: str) -> None:
        _say(self.error, as_sentence(why), error=True)
        self.make_button.setEnabled(True)


class JoinDialog(QDialog):
    """Joins a share with an invite code, into a folder the user picks."""

    def __init__(self, link: DaemonLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Join a share")
        self._link = link
        self._reply: Reply | None = None
        self.joined: Mapping[str, Any] | None = None
        self.code_box = _code_box(read_only=False)
        self.code_box.setPlaceholderText("Paste the invite code here")
        self.code_box.textChanged.connect(self._check)
        self.verdict = _message()
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("the folder the share's files go to")
        self.folder.textChanged.connect(self._check)
        self.choose_button = QPushButton("Choose…")
        self.choose_button.clicked.connect(self.choose_folder)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the daemon says nothing until it is done
        self.progress.hide()
        self.outcome = _message()
        self.join_button = QPushButton("Join")
        self.join_button.setDefault(True)
        self.join_button.clicked.connect(self.join)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Invite code:", self.code_box)
        form.addRow("", self.verdict)
        where = QHBoxLayout()
        where.addWidget(self.folder, 1)
        where.addWidget(self.choose_button)
        form.addRow("Folder:", where)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.outcome)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.join_button)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self._check()

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Folder for the share", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def joining(self) -> bool:
        return self._reply is not None

    def _check(self) -> None:
        verdict = check_code(self.code_box.toPlainText(), time.time())
        _say(self.verdict, verdict.sentence, error=verdict.code is None)
        self.join_button.setEnabled(
            verdict.code is not None and bool(self.folder.text().strip()) and not self.joining()
        )

    def join(self) -> None:
        """Ask the daemon to join, if the code checks out and a folder is chosen."""
        text, folder = self.code_box.toPlainText(), self.folder.text().strip()
        verdict = check_code(text, time.time())
        if verdict.code is None or not folder or self.joining():
            return
        path = str(Path(folder).expanduser().absolute())
        self.outcome.setText("Joining: dialing the inviter…")
        self.outcome.setStyleSheet("")
        fit_height(self)
        self.progress.show()
        self._set_inputs_enabled(False)
        self._reply = self._link.ask(
            "join a share", "join", on_done=self._joined, on_failed=self._failed,
            timeout_s=join_timeout_s(verdict.code), code=text, path=path,
        )  # fmt: skip

    def _joined(self, result: Mapping[str, Any]) -> None:
        self.joined = result
        self._done()
        _say(self.outcome, f"Joined share {result.get('share')} at {result.get('path')}.",
             error=False)  # fmt: skip
        self.join_button.setEnabled(False)

    def _failed(self, why: str) -> None:
        self._done()
        _say(self.outcome, as_sentence(why), error=True)
        self._check()

    def _done(self) -> None:
        self._reply = None
        self.progress.hide()
        self._set_inputs_enabled(True)

    def _set_inputs_enabled(self, on: bool) -> None:
        for widget in (self.code_box, self.folder, self.choose_button, self.join_button):
            widget.setEnabled(on)
