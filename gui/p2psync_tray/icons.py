"""The tray's icons: one SVG per state in ``icons/``, and the syncing animation.

``p2psync.svg`` is the application icon (packaging reuses the file).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap, QTransform

from p2psync_tray.state import TrayState

ICON_DIR = Path(__file__).parent / "icons"
APP_ICON = ICON_DIR / "p2psync.svg"
FRAME_PIXELS = 64
ANIMATION_FRAMES = 12  # one turn of the syncing icon


def icon_path(state: TrayState) -> Path:
    return ICON_DIR / f"{state.value}.svg"


def state_icon(state: TrayState) -> QIcon:
    return QIcon(str(icon_path(state)))


def app_icon() -> QIcon:
    return QIcon(str(APP_ICON))


def syncing_frames() -> list[QIcon]:
    """The syncing icon turned by 1/ANIMATION_FRAMES of a circle per frame."""
    base = state_icon(TrayState.SYNCING).pixmap(FRAME_PIXELS, FRAME_PIXELS)
    frames = []
    for i in range(ANIMATION_FRAMES):
        frame = QPixmap(base.size())
        frame.fill(Qt.GlobalColor.transparent)
        painter = QPainter(frame)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        centre = base.width() / 2
        turn = QTransform().translate(centre, centre).rotate(360 * i / ANIMATION_FRAMES)
        painter.setTransform(turn.translate(-centre, -centre))
        painter.drawPixmap(0, 0, base)
        painter.end()
        frames.append(QIcon(frame))
    return frames
