"""The status window: this device, peers, shares with progress, pending devices and
recent events.

It shows what it is given (``show_snapshot``, ``show_down``, ``add_event``) and
reports what the user asks for with signals; the tray wires those to the daemon.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from p2psync_tray.describe import share_label, state_text
from p2psync_tray.icons import app_icon, state_icon
from p2psync_tray.link import Snapshot
from p2psync_tray.models import (
    KEY_ROLE,
    PROGRESS_ROLE,
    EventsModel,
    PeersModel,
    PendingModel,
    SharesModel,
)
from p2psync_tray.state import TrayState

WINDOW_SIZE = QSize(1040, 660)
STATE_ICON_PIXELS = 32


class ProgressDelegate(QStyledItemDelegate):
    """Draws a cell's PROGRESS_ROLE percentage as a progress bar."""

    def paint(
        self,
        painter: Any,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        pct = index.data(PROGRESS_ROLE)
        if pct is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum, bar.progress = 0, 1000, round(float(pct) * 10)
        bar.text, bar.textVisible = f"{float(pct):.0f} %", True
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


def _table(model: Any) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.setAlternatingRowColors(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


def _group(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def _buttons(*buttons: QPushButton) -> QWidget:
    """A row of buttons, right-aligned."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addStretch(1)
    for button in buttons:
        layout.addWidget(button)
    return row


class StatusWindow(QWidget):
    """The window opened from the tray menu. Closing it only hides it."""

    start_daemon_requested = Signal()
    accept_requested = Signal(str, str)  # device ID, share ID
    ignore_requested = Signal(str)  # device ID
    invite_requested = Signal(str)  # share ID ("" when none is selected)
    join_requested = Signal()
    shown = Signal()
    hidden = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("p2psync")
        self.setWindowIcon(app_icon())
        self.resize(WINDOW_SIZE)
        self.peers = PeersModel()
        self.shares = SharesModel()
        self.pending = PendingModel()
        self.events = EventsModel()
        self._share_rows: list[Mapping[str, Any]] = []
        self._name = "this device"

        self.state_icon = QLabel()
        self.title = QLabel("p2psync")
        self.title.setStyleSheet("font-size: 15pt; font-weight: bold")
        self.detail = QLabel("")
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = QPushButton("Start daemon")
        self.start_button.clicked.connect(self.start_daemon_requested)
        self.start_button.hide()
        header = QHBoxLayout()
        header.addWidget(self.state_icon)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.detail)
        header.addLayout(text, 1)
        header.addWidget(self.start_button)

        self.peers_view = _table(self.peers)
        self.shares_view = _table(self.shares)
        self.shares_view.setItemDelegateForColumn(
            len(SharesModel.columns) - 1, ProgressDelegate(self.shares_view)
        )
        self.pending_view = _table(self.pending)
        self.events_view = _table(self.events)
        self.accept_button = QPushButton("Accept…")
        self.accept_button.clicked.connect(self._accept_clicked)
        self.ignore_button = QPushButton("Ignore")
        self.ignore_button.clicked.connect(self._ignore_clicked)
        self.pending_box = _group(
            "Pending devices", self.pending_view, _buttons(self.accept_button, self.ignore_button)
        )
        self.invite_button = QPushButton("Invite a device…")
        self.invite_button.clicked.connect(
            lambda _checked=False: self.invite_requested.emit(self.selected_share() or "")
        )
        self.join_button = QPushButton("Join a share…")
        self.join_button.clicked.connect(self.join_requested)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(_group("Peers", self.peers_view), 3)
        share_buttons = _buttons(self.invite_button, self.join_button)
        layout.addWidget(_group("Shares", self.shares_view, share_buttons), 2)
        layout.addWidget(self.pending_box, 1)
        layout.addWidget(_group("Recent events", self.events_view), 2)
        self.show_state(TrayState.NOT_RUNNING)

    # -- what the tray tells it ------------------------------------------------------

    def show_state(self, state: TrayState) -> None:
        self.state_icon.setPixmap(state_icon(state).pixmap(STATE_ICON_PIXELS, STATE_ICON_PIXELS))
        self.setWindowTitle(f"p2psync — {state_text(state)}")
        if state is not TrayState.NOT_RUNNING:
            self.title.setText(f"{self._name} — {state_text(state)}")
        self.start_button.setVisible(state is TrayState.NOT_RUNNING)

    def show_snapshot(self, snapshot: Snapshot, ignored: set[str]) -> None:
        status = snapshot.status
        self._name = str(status.get("name") or "this device")
        self.detail.setText(
            f"device {status.get('device_id', '')}  ·  listening on {status.get('listen', '')}"
            f"  ·  daemon {status.get('daemon_version', '')}"
        )
        self._share_rows = list(status.get("shares") or [])
        self.peers.set_rows(snapshot.peers.get("peers") or [], snapshot.time)
        self.shares.set_rows(self._share_rows, snapshot.time)
        pending = [
            p for p in snapshot.peers.get("pending") or [] if p.get("device_id") not in ignored
        ]
        self.pending.set_rows(pending, snapshot.time)
        self.pending_box.setTitle(f"Pending devices ({len(pending)})")

    def show_down(self, reason: str) -> None:
        self.title.setText("Daemon not running")
        self.detail.setText(reason)
        self.show_state(TrayState.NOT_RUNNING)
        for model in (self.peers, self.shares, self.pending):
            model.set_rows([])

    def add_event(self, event: Mapping[str, Any]) -> None:
        self.events.add(event)

    # -- what the user asks for ------------------------------------------------------

    def selected_pending(self) -> str | None:
        rows = self.pending_view.selectionModel().selectedRows()
        if not rows and self.pending.rowCount() == 1:
            return str(self.pending.index(0, 0).data(KEY_ROLE))
        return str(rows[0].data(KEY_ROLE)) if rows else None

    def selected_share(self) -> str | None:
        rows = self.shares_view.selectionModel().selectedRows()
        return str(rows[0].data(KEY_ROLE)) if rows else None

    def _accept_clicked(self) -> None:
        device = self.selected_pending()
        if device is None or not self._share_rows:
            return
        labels = [f"{share_label(s)} ({s.get('path')})" for s in self._share_rows]
        choice, ok = QInputDialog.getItem(
            self, "Accept device", f"Share with {device}:", labels, 0, False
        )
        if ok and choice in labels:
            share = self._share_rows[labels.index(choice)]
            self.accept_requested.emit(device, str(share.get("id")))

    def _ignore_clicked(self) -> None:
        device = self.selected_pending()
        if device is not None:
            self.ignore_requested.emit(device)

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        self.shown.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        event.ignore()
        self.hide()
        self.hidden.emit()
