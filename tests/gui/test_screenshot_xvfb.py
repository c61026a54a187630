"""End to end on a real X display: the real tray app, with a real system tray host,
shows a real daemon's connected peer in its status window, and a file's versions with
a coloured diff in its History window.

Runs gui/tools/status_screenshot.py (the script that makes the README's picture)
and checks the picture's pixels. Needs Xvfb and wmdocker (``make system-deps``
installs them); without them this test fails and says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from p2psync_tray.history import ADDED_STYLE, REMOVED_STYLE

SCRIPT = Path(__file__).parents[2] / "gui" / "tools" / "status_screenshot.py"
BLACK = 0xFF000000


def shoot(out: Path, *options: str) -> QImage:
    """Run the screenshot script; the picture it made."""
    for program in ("Xvfb", "wmdocker"):
        assert shutil.which(program), f"{program} is not installed: run 'make system-deps'"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *options, str(out)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert not image.isNull()
    return image


def test_status_window_screenshot_is_not_blank(tmp_path: Path) -> None:
    image = shoot(tmp_path / "status-window.png")
    assert image.width() >= 800
    assert image.height() >= 500
    pixels = [image.pixel(x, y) for y in range(0, image.height(), 3)
              for x in range(0, image.width(), 3)]  # fmt: skip
    colours = set(pixels)
    assert len(colours) > 50  # text, icons, a progress bar: not a flat fill
    background = max(colours, key=pixels.count)
    assert background != BLACK  # the window, not the empty screen
    share_of_background = pixels.count(background) / len(pixels)
    assert share_of_background < 0.9


def test_history_window_screenshot_shows_a_coloured_diff(tmp_path: Path) -> None:
    image = shoot(tmp_path / "history-window.png", "--history")
    assert image.width() >= 900
    assert image.height() >= 600
    colours = {image.pixel(x, y) & 0xFFFFFF for y in range(0, image.height(), 2)
               for x in range(0, image.width(), 2)}  # fmt: skip
    assert colour_of(ADDED_STYLE) in colours  # an added line's background
    assert colour_of(REMOVED_STYLE) in colours  # a removed line's background
    assert len(colours) > 50  # text, tables, a selection: not a flat fill


def colour_of(style: str) -> int:
    """The background colour a diff style names, as 0xRRGGBB."""
    return int(style.split("background-color: #")[1][:6], 16)
