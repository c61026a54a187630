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
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from p2psync_tray.describe import share_label, share_problems, state_text
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

WINDOW_SIZE = QSize(1000, 700)  # fits a 1024x768 screen with a panel
STATE_ICON_PIXELS = 32
MAX_FITTED_ROWS = 8  # peers, shares and pending devices show this many rows at most
MIN_EVENT_ROWS = 4
PATH_WIDTH = 220  # the shares' Path column (a longer path is cut in its middle)
DOWN_STYLE = "color: #b00020"


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
        bar.text, bar.textVisible = str(index.data(Qt.ItemDataRole.DisplayRole)), True
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class FittedTable(QTableView):
    """A table as tall as its rows (at least one, at most ``max_rows``), so a section
    shows every row it has instead of a fixed share of the window."""

    def __init__(self, max_rows: int) -> None:
        super().__init__()
        self.max_rows = max_rows
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

    def setModel(self, model: Any) -> None:  # noqa: N802
        super().setModel(model)
        for changed in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            changed.connect(self.fit)
        # wider text in the same rows (a transfer's figures) may bring a scroll bar
        self.horizontalScrollBar().rangeChanged.connect(self.fit)
        self.fit()

    def fitted_height(self) -> int:
        rows = min(max(1, self.model().rowCount()), self.max_rows)
        row_height = self.verticalHeader().defaultSectionSize()
        wide = self.horizontalScrollBar().maximum() > 0
        scroll = self.horizontalScrollBar().sizeHint().height() if wide else 0
        return (self.horizontalHeader().sizeHint().height() + rows * row_height
                + 2 * self.frameWidth() + scroll)  # fmt: skip

    def fit(self) -> None:
        self.setFixedHeight(self.fitted_height())


def table_view(model: Any, max_rows: int | None = MAX_FITTED_ROWS) -> QTableView:
    """A read-only table of rows, one line each, selected by row; as tall as its rows
    (up to ``max_rows``) unless ``max_rows`` is None."""
    view = QTableView() if max_rows is None else FittedTable(max_rows)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.setWordWrap(False)  # one line a row: long IDs are elided, rows keep their height
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
    rename_requested = Signal(str)  # this device's new name
    pause_share_requested = Signal(str, bool)  # share ID, pause (True) or resume
    add_share_requested = Signal()
    name_peer_requested = Signal(str, str)  # device ID, name ("" forgets it)
    forget_peer_requested = Signal(str)  # device ID
    remove_share_requested = Signal(str)  # share ID
    members_requested = Signal(str)  # share ID
    history_requested = Signal(str)  # share ID
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

        header = self._header()
        self.peers_view = table_view(self.peers)
        self.shares_view = table_view(self.shares)
        self.shares_view.setItemDelegateForColumn(
            SharesModel.progress_column, ProgressDelegate(self.shares_view)
        )
        shares_header = self.shares_view.horizontalHeader()
        shares_header.setStretchLastSection(False)
        shares_header.setSectionResizeMode(
            SharesModel.progress_column, QHeaderView.ResizeMode.Stretch
        )
        # a long path is cut in its middle: the progress bar's words need the room
        shares_header.setSectionResizeMode(
            SharesModel.path_column, QHeaderView.ResizeMode.Interactive
        )
        shares_header.resizeSection(SharesModel.path_column, PATH_WIDTH)
        self.shares_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.pending_view = table_view(self.pending)
        self.events_view = table_view(self.events, max_rows=None)
        self.events_view.setMinimumHeight(
            self.events_view.verticalHeader().defaultSectionSize() * (MIN_EVENT_ROWS + 1)
        )
        self.accept_button = QPushButton("Accept…")
        self.accept_button.clicked.connect(self._accept_clicked)
        self.ignore_button = QPushButton("Ignore")
        self.ignore_button.clicked.connect(self._ignore_clicked)
        self.pending_box = _group(
            "Pending devices", self.pending_view, _buttons(self.accept_button, self.ignore_button)
        )
        self.pending_box.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self._peers_section())
        layout.addWidget(self._shares_section())
        layout.addWidget(self.pending_box)
        layout.addWidget(_group("Recent events", self.events_view), 1)
        self.show_state(TrayState.NOT_RUNNING)

    def _header(self) -> QHBoxLayout:
        """This device's state icon, name and state, details, Rename and Start."""
        self.state_icon = QLabel()
        self.title = QLabel("p2psync")
        self.title.setStyleSheet("font-size: 15pt; font-weight: bold")
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = QPushButton("Start daemon")
        self.start_button.clicked.connect(self.start_daemon_requested)
        self.start_button.hide()
        self.rename_button = QPushButton("Rename this device…")
        self.rename_button.clicked.connect(self._rename_clicked)
        self.rename_button.hide()
        header = QHBoxLayout()
        header.addWidget(self.state_icon)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.detail)
        header.addLayout(text, 1)
        header.addWidget(self.rename_button)
        header.addWidget(self.start_button)

        return header

    def _peers_section(self) -> QGroupBox:
        """The peers table and the buttons acting on the selected peer."""
        self.name_peer_button = QPushButton("Name this peer…")
        self.name_peer_button.clicked.connect(self._name_peer_clicked)
        self.forget_peer_button = QPushButton("Forget this peer…")
        self.forget_peer_button.clicked.connect(self._forget_peer_clicked)
        self.peers_view.selectionModel().selectionChanged.connect(self._peer_selected)
        self._peer_selected()
        buttons = _buttons(self.name_peer_button, self.forget_peer_button)
        return _group("Peers", self.peers_view, buttons)

    def _shares_section(self) -> QGroupBox:
        """The shares table, the selected share's problems, and the share buttons."""
        self.invite_button = QPushButton("Invite a device…")
        self.invite_button.clicked.connect(
            lambda _checked=False: self.invite_requested.emit(self.selected_share() or "")
        )
        self.join_button = QPushButton("Join a share…")
        self.join_button.clicked.connect(self.join_requested)
        self.pause_share_button = QPushButton("Pause this share")
        self.pause_share_button.setEnabled(False)
        self.pause_share_button.clicked.connect(self._pause_share_clicked)
        self.add_share_button = QPushButton("Add a folder…")
        self.add_share_button.clicked.connect(self.add_share_requested)
        self.remove_share_button = QPushButton("Remove this share…")
        self.remove_share_button.setEnabled(False)
        self.remove_share_button.clicked.connect(self._remove_share_clicked)
        self.members_button = QPushButton("Members…")
        self.members_button.setEnabled(False)
        self.members_button.clicked.connect(
            lambda _checked=False: self.members_requested.emit(self.selected_share() or "")
        )
        self.history_button = QPushButton("History…")
        self.history_button.setEnabled(False)
        self.history_button.clicked.connect(
            lambda _checked=False: self.history_requested.emit(self.selected_share() or "")
        )
        self.shares_view.selectionModel().selectionChanged.connect(self._share_selected)
        self.share_detail = QLabel("")
        self.share_detail.setWordWrap(True)
        self.share_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.share_detail.hide()

        buttons = _buttons(
            self.add_share_button, self.remove_share_button, self.members_button,
            self.history_button, self.pause_share_button,
            self.invite_button, self.join_button,
        )  # fmt: skip
        return _group("Shares", self.shares_view, self.share_detail, buttons)

    # -- what the tray tells it ------------------------------------------------------

    def show_state(self, state: TrayState) -> None:
        """The header, icon and title for ``state`` (the state of the snapshot the
        tables show, so that the header never lags them)."""
        self.state_icon.setPixmap(state_icon(state).pixmap(STATE_ICON_PIXELS, STATE_ICON_PIXELS))
        self.setWindowTitle(f"p2psync — {state_text(state)}")
        running = state is not TrayState.NOT_RUNNING
        if running:
            self.title.setText(f"{self._name} — {state_text(state)}")
            self.detail.setStyleSheet("")
        self.start_button.setVisible(not running)
        self.rename_button.setVisible(running)
        for needs_daemon in (self.invite_button, self.join_button, self.add_share_button):
            needs_daemon.setEnabled(running)  # each asks the daemon

    def show_snapshot(
        self, snapshot: Snapshot, ignored: set[str], state: TrayState | None = None
    ) -> None:
        status = snapshot.status
        self._name = str(status.get("name") or "this device")
        self.detail.setText(
            f"device {status.get('device_id', '')}\n"  # two lines of their own: no wrap
            f"listening on {status.get('listen', '')}  ·  daemon {status.get('daemon_version', '')}"
        )
        self._share_rows = list(status.get("shares") or [])
        self.peers.set_rows(snapshot.peers.get("peers") or [], snapshot.time)
        self.shares.set_rows(self._share_rows, snapshot.time)
        pending = [
            p for p in snapshot.peers.get("pending") or [] if p.get("device_id") not in ignored
        ]
        self.pending.set_rows(pending, snapshot.time)
        self.pending_box.setTitle(f"Pending devices ({len(pending)})")
        self.pending_box.setVisible(bool(pending))
        self._peer_selected()
        self._share_selected()
        if state is not None:
            self.show_state(state)

    def show_down(self, reason: str) -> None:
        self.title.setText("Daemon not running")
        self.detail.setText(reason)
        self.show_state(TrayState.NOT_RUNNING)
        self.detail.setStyleSheet(DOWN_STYLE if reason.startswith("The daemon ") else "")
        for model in (self.peers, self.shares, self.pending):
            model.set_rows([])
        self.pending_box.setTitle("Pending devices (0)")
        self.pending_box.hide()
        self._share_rows = []
        self._peer_selected()
        self._share_selected()

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

    def selected_peer_row(self) -> Mapping[str, Any] | None:
        rows = self.peers_view.selectionModel().selectedRows()
        device = str(rows[0].data(KEY_ROLE)) if rows else None
        found = [r for r in self.peers.rows() if str(r.get("device_id")) == device]
        return found[0] if found else None

    def _peer_selected(self, *_: Any) -> None:
        selected = self.selected_peer_row() is not None
        self.name_peer_button.setEnabled(selected)
        self.forget_peer_button.setEnabled(selected)

    def _name_peer_clicked(self) -> None:
        row = self.selected_peer_row()
        if row is None:
            return
        given = str(row.get("display_name") or "")
        name, ok = QInputDialog.getText(
            self, "Name this peer",
            f"Name shown here for {row.get('name') or row.get('device_id')} "
            "(empty: the name it announces):",
            text=given,
        )  # fmt: skip
        if ok and name.strip() != given:
            self.name_peer_requested.emit(str(row.get("device_id")), name.strip())

    def _forget_peer_clicked(self) -> None:
        row = self.selected_peer_row()
        if row is not None:
            self.forget_peer_requested.emit(str(row.get("device_id")))

    def selected_share_row(self) -> Mapping[str, Any] | None:
        share = self.selected_share()
        rows = [r for r in self._share_rows if str(r.get("id")) == share]
        return rows[0] if rows else None

    def _share_selected(self, *_: Any) -> None:
        """The pause button and the files-not-in-sync line follow the selected share."""
        row = self.selected_share_row()
        self.pause_share_button.setEnabled(row is not None)
        self.remove_share_button.setEnabled(row is not None)
        self.members_button.setEnabled(row is not None)
        self.history_button.setEnabled(row is not None)
        paused = bool(row and row.get("paused"))
        self.pause_share_button.setText("Resume this share" if paused else "Pause this share")
        text = share_problems(row) if row is not None else ""
        self.share_detail.setText(text)
        self.share_detail.setVisible(bool(text))

    def _pause_share_clicked(self) -> None:
        row = self.selected_share_row()
        if row is not None:
            self.pause_share_requested.emit(str(row.get("id")), not row.get("paused"))

    def _remove_share_clicked(self) -> None:
        row = self.selected_share_row()
        if row is not None:
            self.remove_share_requested.emit(str(row.get("id")))

    def _rename_clicked(self) -> None:
        name, ok = QInputDialog.getText(
            self, "Rename this device", "Name other devices see for this one:", text=self._name
        )
        if ok and name.strip() and name.strip() != self._name:
            self.rename_requested.emit(name.strip())

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
