"""Qt widgets laid out for a look at their geometry, on Qt's offscreen platform: a
widget ``shown`` and closed after the test, the events ``settle``d, and where a child
sits in its window (``rect_in``)."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

W = TypeVar("W", bound=QWidget)


def rect_in(widget: QWidget, top: QWidget) -> QRect:
    """Where ``widget`` lies in ``top``'s coordinates."""
    return QRect(widget.mapTo(top, widget.rect().topLeft()), widget.size())


def settle() -> None:
    """Let Qt handle the posted events: layouts done, widgets resized."""
    for _ in range(3):
        QApplication.processEvents()


def shown(qtbot: QtBot, widget: W) -> W:
    """``widget`` shown and laid out, closed after the test."""
    qtbot.addWidget(widget)
    widget.show()
    settle()
    return widget
