"""End to end on a real X display: the real tray app, with a real system tray host,
shows a real daemon's connected peer in its status window.

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

SCRIPT = Path(__file__).parents[2] / "gui" / "tools" / "status_screenshot.py"
BLACK = 0xFF000000


def test_status_window_screenshot_is_not_blank(tmp_path: Path) -> None:
    for program in ("Xvfb", "wmdocker"):
        assert shutil.which(program), f"{program} is not installed: run 'make system-deps'"
    out = tmp_path / "status-window.png"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert not image.isNull()
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
