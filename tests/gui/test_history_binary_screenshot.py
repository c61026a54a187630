"""End to end on a real X display: the real tray's History window shows a binary
file's versions, synced from two devices' saves, with their sizes and no diff.

Runs gui/tools/history_binary_screenshot.py and checks what it printed (the versions
the daemon lists) and the picture's pixels. Needs Xvfb and wmdocker (``make
system-deps`` installs them); without them this test fails and says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QColor, QImage

from p2psync_tray.history import ADDED_STYLE, REMOVED_STYLE

SCRIPT = Path(__file__).parents[2] / "gui" / "tools" / "history_binary_screenshot.py"


def _colour(style: str) -> int:
    """The background colour a diff line's style names, as 0xRRGGBB."""
    return (
        QColor(style.split("background-color:")[1].split(";", maxsplit=1)[0].strip()).rgb()
        & 0xFFFFFF
    )


def test_history_window_screenshot_shows_a_binary_files_versions(tmp_path: Path) -> None:
    for program in ("Xvfb", "wmdocker"):
        assert shutil.which(program), f"{program} is not installed: run 'make system-deps'"
    out = tmp_path / "history-binary.png"
    result = subprocess.run([sys.executable, str(SCRIPT), str(out)],
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    listed = [line.split()[1:] for line in result.stdout.splitlines() if line.startswith("version")]
    # newest first: four saves of different sizes, from two devices in turns
    assert [(row[0], row[-1]) for row in listed] == [
        ("4", "6008"), ("3", "4508"), ("2", "3008"), ("1", "1508"),
    ]  # fmt: skip
    image = QImage(str(out))
    assert not image.isNull()
    assert image.width() >= 900
    assert image.height() >= 600
    colours = {image.pixel(x, y) & 0xFFFFFF for y in range(0, image.height(), 2)
               for x in range(0, image.width(), 2)}  # fmt: skip
    assert len(colours) > 50  # text, tables, a selection: not a flat fill
    # a binary file's version has no text: no coloured diff lines in the picture
    assert _colour(ADDED_STYLE) not in colours
    assert _colour(REMOVED_STYLE) not in colours
