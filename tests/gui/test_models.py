"""Table models on their own: selection survives the once-a-second refresh, the
events list keeps the newest MAX_EVENTS (the models against a real daemon are in
test_tray.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView
from pytestqt.qtbot import QtBot

from p2psync_tray.models import KEY_ROLE, MAX_EVENTS, EventsModel, PeersModel, PendingModel


def pending(*devices: str) -> list[dict[str, object]]:
    return [{"device_id": d, "name": d.lower(), "address": "", "last_seen": 0} for d in devices]


def test_refresh_with_the_same_rows_keeps_the_selection(qtbot: QtBot) -> None:
    model = PendingModel()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    model.set_rows(pending("A", "B"), now=100.0)
    view.selectRow(1)
    model.set_rows(pending("A", "B"), now=101.0)
    selected = view.selectionModel().selectedRows()
    assert [i.data(KEY_ROLE) for i in selected] == ["B"]
    model.set_rows(pending("C"), now=102.0)
    assert view.selectionModel().selectedRows() == []
    assert model.text(0, 0) == "c"


def test_events_newest_first_and_bounded() -> None:
    model = EventsModel()
    for i in range(MAX_EVENTS + 5):
        model.add({"type": "error", "time": 0.0, "message": f"failure {i}"})
    assert model.rowCount() == MAX_EVENTS
    assert model.text(0, 2) == f"failure {MAX_EVENTS + 4}"
    assert model.text(MAX_EVENTS - 1, 2) == "failure 5"


def test_peer_state_tooltip_says_why_a_dial_failed() -> None:
    model = PeersModel()
    model.set_rows([
        {"device_id": "A", "connected": False, "last_seen": 0, "last_error": "refused"},
        {"device_id": "B", "connected": True, "in_sync": True, "protocol_version": 1},
    ])  # fmt: skip
    tip = Qt.ItemDataRole.ToolTipRole
    assert model.index(0, 1).data(tip) == "last dial failed: refused"
    assert model.index(1, 1).data(tip) == "protocol version 1"
    assert model.index(1, 0).data(tip) is None
