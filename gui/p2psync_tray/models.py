"""Qt table models of the status window, filled from control API results.

Each model holds plain rows (dicts from ``peers``, ``status`` and the event stream)
and a list of columns that turn a row into text. ``set_rows`` keeps the views'
selection when the same rows come back (the usual case, once a second): it then
only announces changed data instead of resetting the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from p2psync_tray.describe import (
    event_text,
    format_ago,
    format_bytes,
    format_clock,
    format_rate,
    member_state,
    peer_address,
    peer_name,
    peer_state,
    peer_sync,
    share_label,
    share_pct,
    share_problem_count,
    share_problems,
    share_progress,
    share_state,
)

Row = Mapping[str, Any]
KEY_ROLE = Qt.ItemDataRole.UserRole  # the row's device ID, share ID or event number
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1  # a percentage (float) or None
MAX_EVENTS = 200

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    text: Callable[[Row, float], str]
    progress: Callable[[Row], float | None] | None = None
    tooltip: Callable[[Row], str] | None = None


class RowsModel(QAbstractTableModel):
    """A read-only table of rows; subclasses give ``columns`` and ``key``."""

    columns: Sequence[Column] = ()

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[Row] = []
        self._now = time.time()

    def key(self, row: Row) -> str:
        raise NotImplementedError

    def rows(self) -> list[Row]:
        return list(self._rows)

    def set_rows(self, rows: Sequence[Row], now: float | None = None) -> None:
        self._now = time.time() if now is None else now
        rows = list(rows)
        if [self.key(r) for r in rows] == [self.key(r) for r in self._rows] and rows:
            self._rows = rows
            last = self.index(len(rows) - 1, len(self.columns) - 1)
            self.dataChanged.emit(self.index(0, 0), last)
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row, column = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row, self._now)
        if role == KEY_ROLE:
            return self.key(row)
        if role == PROGRESS_ROLE and column.progress is not None:
            return column.progress(row)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(row) or None
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].header
        return None

    def text(self, row: int, column: int) -> str:
        """The text shown in one cell (for the menu and for tests)."""
        return str(self.data(self.index(row, column)))


def _traffic(row: Row, now: float) -> str:
    if not row.get("connected"):
        return "—"
    down, up = format_bytes(row.get("bytes_in", 0)), format_bytes(row.get("bytes_out", 0))
    return f"↓ {down}  ↑ {up}"


def _rate(row: Row, now: float) -> str:
    if not row.get("connected"):
        return "—"
    return f"↓ {format_rate(row.get('rate_in', 0))}  ↑ {format_rate(row.get('rate_out', 0))}"


def _link_detail(row: Row) -> str:
    """Why the last dial failed, or the protocol version of the connection."""
    if row.get("connected"):
        return f"protocol version {row.get('protocol_version')}"
    error = str(row.get("last_error") or "")
    return f"last dial failed: {error}" if error else ""


def _last_seen(row: Row, now: float) -> str:
    return "now" if row.get("connected") else format_ago(row.get("last_seen"), now)


class PeersModel(RowsModel):
    """The ``peers`` result's devices: one row each, keyed by device ID."""

    columns = (
        Column("Name", lambda r, now: peer_name(r)),
        Column("State", peer_state, tooltip=_link_detail),
        Column("Address", lambda r, now: peer_address(r)),
        Column("Last seen", _last_seen),
        Column("Traffic", _traffic),
        Column("Rate", _rate),
        Column("Sync", lambda r, now: peer_sync(r)),
        Column("Device ID", lambda r, now: str(r.get("device_id", ""))),
    )

    def key(self, row: Row) -> str:
        return str(row.get("device_id", ""))


def _members(row: Row, now: float) -> str:
    members = row.get("members") or []
    connected = row.get("peers_connected") or []
    return f"{len(connected)} of {len(members)} connected"


class SharesModel(RowsModel):
    """The shares of ``status``, keyed by share ID; the Progress column has a bar."""

    columns = (
        Column("Folder", lambda r, now: share_label(r)),
        Column("Path", lambda r, now: str(r.get("path", ""))),
        Column("Docs", lambda r, now: str(r.get("docs", 0))),
        Column("Members", _members),
        Column("State", lambda r, now: share_state(r)),
        Column(
            "Progress",
            lambda r, now: share_progress(r),
            progress=share_pct,
        ),
        Column("Not in sync", lambda r, now: share_problem_count(r), tooltip=share_problems),
    )
    path_column = 1
    progress_column = 5

    def key(self, row: Row) -> str:
        return str(row.get("id", ""))


class PendingModel(RowsModel):
    """Devices that tried to connect and are in no share, keyed by device ID."""

    columns = (
        Column("Name", lambda r, now: peer_name(r)),
        Column("Device ID", lambda r, now: str(r.get("device_id", ""))),
        Column("Address", lambda r, now: str(r.get("address") or "—")),
        Column("Last seen", lambda r, now: format_ago(r.get("last_seen"), now)),
    )

    def key(self, row: Row) -> str:
        return str(row.get("device_id", ""))


class EventsModel(RowsModel):
    """The most recent events of the stream, newest first (at most MAX_EVENTS)."""

    columns = (
        Column("Time", lambda r, now: format_clock(float(r.get("time") or 0))),
        Column("Event", lambda r, now: str(r.get("type", ""))),
        Column("Details", lambda r, now: event_text(r)),
    )

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    def key(self, row: Row) -> str:
        return str(row.get("_number", ""))

    def add(self, event: Row) -> None:
        self._count += 1
        self.set_rows([{**event, "_number": self._count}, *self.rows()][:MAX_EVENTS])


class MembersModel(RowsModel):
    """The other members of one share (its ``members`` in ``status``), keyed by
    device ID."""

    columns = (
        Column("Name", lambda r, now: peer_name(r)),
        Column("Mode", lambda r, now: str(r.get("mode", ""))),
        Column("State", lambda r, now: member_state(r)),
        Column("Device ID", lambda r, now: str(r.get("device_id", ""))),
    )

    def key(self, row: Row) -> str:
        return str(row.get("device_id", ""))
