"""Managing shares and devices from the tray: the add-a-folder dialog (``share.add``),
the confirmation before a share is removed (``share.remove``; its files stay on disk)
and before a device's addresses are forgotten (``peer.remove``).

The daemon checks the folder exactly as ``p2psync share add`` does (not the home,
not inside or around another share, not in a ``.p2psync`` folder, not missing); its
refusal is shown in the dialog as its one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from p2psync_tray.describe import as_sentence, peer_name, share_label
from p2psync_tray.invites import _message, _say
from p2psync_tray.link import DaemonLink, Reply
from p2psync_tray.models import KEY_ROLE, MembersModel
from p2psync_tray.window import table_view

MODES = ("send-receive", "receive-only", "send-only")
MODE_TEXT = {
    "send-receive": "its changes go to the others; theirs are applied there",
    "receive-only": "theirs are applied there; its own are kept there only",
    "send-only": "its changes go to the others; theirs are not applied there",
}


class AddShareDialog(QDialog):
    """Shares a folder the user picks (``share.add``)."""

    def __init__(self, link: DaemonLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a shared folder")
        self._link = link
        self._reply: Reply | None = None
        self.added: Mapping[str, Any] | None = None
        intro = QLabel("The folder's files are synced with the devices you invite to it.")
        intro.setWordWrap(True)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("the folder to share")
        self.folder.textChanged.connect(self._check)
        self.choose_button = QPushButton("Choose…")
        self.choose_button.clicked.connect(self.choose_folder)
        self.outcome = _message()
        self.add_button = QPushButton("Add")
        self.add_button.setDefault(True)
        self.add_button.clicked.connect(self.add)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        where = QHBoxLayout()
        where.addWidget(self.folder, 1)
        where.addWidget(self.choose_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(where)
        layout.addWidget(self.outcome)
        layout.addLayout(buttons)
        self.resize(520, self.sizeHint().height())
        self._check()

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Folder to share", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def _check(self) -> None:
        self.add_button.setEnabled(bool(self.folder.text().strip()) and self._reply is None)

    def add(self) -> None:
        """Ask the daemon to share the folder (it refuses, in one sentence, what
        ``p2psync share add`` refuses)."""
        folder = self.folder.text().strip()
        if not folder or self._reply is not None:
            return
        path = str(Path(folder).expanduser().absolute())
        self._reply = self._link.ask(
            "add a shared folder", "share.add", on_done=self._added, on_failed=self._failed,
            path=path,
        )  # fmt: skip
        self._check()

    def _added(self, result: Mapping[str, Any]) -> None:
        self._reply = None
        self.added = result
        _say(self.outcome, f"Sharing {result.get('path')} as share {result.get('id')}.",
             error=False)  # fmt: skip
        self._check()

    def _failed(self, why: str) -> None:
        self._reply = None
        _say(self.outcome, as_sentence(why), error=True)
        self._check()


def ask_yes(parent: QWidget, title: str, text: str) -> bool:
    """A Yes / Cancel question (Cancel by default); True for Yes."""
    answer = QMessageBox.question(
        parent, title, text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )  # fmt: skip
    return answer == QMessageBox.StandardButton.Yes


def confirm_remove_share(parent: QWidget, share: Mapping[str, Any]) -> bool:
    """Ask before a share is removed; say that its files stay on disk."""
    return ask_yes(
        parent,
        "Remove this share",
        f"Stop sharing {share.get('path')} ({share_label(share)})?\n\n"
        "Its files stay on disk, as they are now; this device stops syncing them "
        "with the share's other members.",
    )


def confirm_forget_peer(parent: QWidget, peer: Mapping[str, Any]) -> bool:
    """Ask before a device's static addresses are forgotten (``peer remove``); say
    what it does not do."""
    return ask_yes(
        parent,
        "Forget this device's addresses",
        f"Forget the addresses given for {peer_name(peer)}?\n\n"
        "This device stops dialing it there. A connection that is up stays up, it stays "
        "a member of its shares, and the LAN (mDNS) may still find it; to stop sharing "
        "with it, remove it from each share's members.",
    )


class MembersDialog(QDialog):
    """The other members of a share with their modes; sets a member's mode
    (``share.member.add`` with ``mode``, as ``p2psync share member add --mode``)."""

    def __init__(
        self, link: DaemonLink, share: Mapping[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._link = link
        self._reply: Reply | None = None
        self.share_id = str(share.get("id", ""))
        self.members = MembersModel()
        self.view = table_view(self.members, max_rows=None)
        self.view.selectionModel().selectionChanged.connect(self._member_picked)
        self.intro = QLabel("")
        self.intro.setWordWrap(True)
        self.mode_box = QComboBox()
        for mode in MODES:
            self.mode_box.addItem(f"{mode}: {MODE_TEXT[mode]}", mode)
        self.set_button = QPushButton("Set mode")
        self.set_button.clicked.connect(self.set_mode)
        self.outcome = _message()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Mode:"))
        mode_row.addWidget(self.mode_box, 1)
        mode_row.addWidget(self.set_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.view, 1)
        layout.addLayout(mode_row)
        layout.addWidget(self.outcome)
        layout.addWidget(close)
        self.resize(720, 360)
        self.show_share(share)

    def show_share(self, share: Mapping[str, Any]) -> None:
        """The share's members as the last ``status`` says (called on each poll)."""
        label = share_label(share)
        self.setWindowTitle(f"Members of {label}")
        members = list(share.get("members") or [])
        self.intro.setText(
            f"{label} ({share.get('path')}): {len(members)} other "
            f"member{'' if len(members) == 1 else 's'}; this device is "
            f"{share.get('mode', 'send-receive')}. A mode set here reaches the others."
        )
        self.members.set_rows(members)
        self._selected()

    def selected_device(self) -> str | None:
        rows = self.view.selectionModel().selectedRows()
        return str(rows[0].data(KEY_ROLE)) if rows else None

    def _selected(self) -> None:
        self.set_button.setEnabled(self.selected_device() is not None and self._reply is None)

    def _member_picked(self, *_: Any) -> None:
        """The mode box starts at the picked member's mode."""
        device = self.selected_device()
        rows = [r for r in self.members.rows() if str(r.get("device_id")) == device]
        if rows:
            self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(rows[0].get("mode"))))
        self._selected()

    def set_mode(self) -> None:
        device, mode = self.selected_device(), str(self.mode_box.currentData())
        if device is None or self._reply is not None:
            return
        self._reply = self._link.ask(
            "set a member's mode", "share.member.add", on_done=self._mode_set,
            on_failed=self._done, share=self.share_id, device=device, mode=mode,
        )  # fmt: skip
        self.outcome.setText("")
        self._selected()

    def _mode_set(self, _result: Any) -> None:
        # a bound method, not a lambda: the reply's signal then reaches it in the Qt
        # thread (a lambda would run in the link's thread)
        self._done("")

    def _done(self, why: str) -> None:
        self._reply = None
        if why:
            _say(self.outcome, as_sentence(why), error=True)
        else:
            _say(self.outcome, "Mode set.", error=False)
        self._selected()
