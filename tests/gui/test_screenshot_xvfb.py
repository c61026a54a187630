"""End to end on a real X display: the real tray app, with a real system tray host,
shows a real daemon's connected peer in its status window, a first sync mid-way at
either end with its progress bar partly filled, a failed start and a crash, each
dialog with no widget laid over another, and a file's versions with a coloured diff
in its History window.

Runs gui/tools/status_screenshot.py (the script that makes the README's picture)
and checks the picture's pixels. Needs Xvfb and wmdocker (``make system-deps``
installs them); without them this test fails and says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from p2psync_tray.history import ADDED_STYLE, REMOVED_STYLE
from p2psync_tray.window import DOWN_STYLE

SCRIPT = Path(__file__).parents[2] / "gui" / "tools" / "status_screenshot.py"
DOWN_SCRIPT = SCRIPT.with_name("daemon_down_screenshot.py")
DIALOGS_SCRIPT = SCRIPT.with_name("dialogs_screenshot.py")
DIALOGS = ("status-window", "invite", "join", "add-share", "members", "apps")
ACTIONS = ("rename", "name a peer", "pause a share", "resume a share", "set a mode",
           "add a folder", "remove a share")  # fmt: skip
BLACK = 0xFF000000


def shoot(out: Path, *options: str) -> QImage:
    """Run the screenshot script; the picture it made."""
    return shoot_with_output(out, *options)[0]


def shoot_with_output(out: Path, *options: str, script: Path = SCRIPT) -> tuple[QImage, str]:
    """Run a screenshot script; the picture it made and what it printed."""
    for program in ("Xvfb", "wmdocker"):
        assert shutil.which(program), f"{program} is not installed: run 'make system-deps'"
    result = subprocess.run(
        [sys.executable, str(script), *options, str(out)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert not image.isNull()
    return image, result.stdout


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


@pytest.mark.slow
def test_history_window_screenshot_shows_a_coloured_diff(tmp_path: Path) -> None:
    image = shoot(tmp_path / "history-window.png", "--history")
    assert image.width() >= 900
    assert image.height() >= 600
    colours = {image.pixel(x, y) & 0xFFFFFF for y in range(0, image.height(), 2)
               for x in range(0, image.width(), 2)}  # fmt: skip
    assert colour_of(ADDED_STYLE) in colours  # an added line's background
    assert colour_of(REMOVED_STYLE) in colours  # a removed line's background
    assert len(colours) > 50  # text, tables, a selection: not a flat fill


@pytest.mark.parametrize(("option", "moved"), [("--first-sync", "received"),
                                               ("--first-sync-sender", "sent")])  # fmt: skip
@pytest.mark.slow
def test_first_sync_screenshot_shows_a_bar_filled_as_far_as_the_files_went(
    tmp_path: Path, option: str, moved: str
) -> None:
    # the receiving end (the sender stopped mid-way) and the sending end (the receiver
    # stopped: the bar shows the files its index says it holds, not those the sender
    # went on writing into the connection)
    image, said = shoot_with_output(tmp_path / "first-sync.png", option)
    found = re.search(rf"{moved} (\d+) of (\d+) files, (\d+) bytes", said)
    assert found, said
    files, expected, moved_bytes = map(int, found.groups())
    assert 0 < files < expected
    assert moved_bytes > 0
    filled, empty = bar_fill(image)
    assert filled >= 10, "no filled part of a progress bar in the picture"
    assert empty >= 10, "the progress bar is full"
    # the bar stands about as far as the files went
    assert abs(filled / (filled + empty) - files / expected) < 0.1, (filled, empty, files)


@pytest.mark.slow
def test_a_failed_start_and_a_crash_are_told_in_the_window(tmp_path: Path) -> None:
    # the script also checks the sentence is not laid over the Start daemon button
    failed, said = shoot_with_output(tmp_path / "f.png", "--failed-start", script=DOWN_SCRIPT)
    assert "The daemon did not start (it exited with 2): p2psync: " in said
    assert "'name' must be a string. Its log is " in said
    crashed, said = shoot_with_output(tmp_path / "c.png", "--crash", script=DOWN_SCRIPT)
    assert "The daemon crashed (it was killed by SIGKILL). Its log is " in said
    for image in (failed, crashed):
        assert image.width() >= 800
        colours = {image.pixel(x, y) & 0xFFFFFF for y in range(0, 120)
                   for x in range(0, image.width())}  # fmt: skip
        assert colour_of(DOWN_STYLE) in colours  # the sentence, in the header, in red


@pytest.mark.slow
def test_each_dialog_on_x_has_no_widget_laid_over_another(tmp_path: Path) -> None:
    # the script fails (exit 1, one sentence) on a widget laid over another, one
    # outside its dialog or a wrapped label cut short, with X's fonts
    result = subprocess.run(
        [sys.executable, str(DIALOGS_SCRIPT), str(tmp_path)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = result.stdout.splitlines()
    # two real apps connected to notes.md, told in the share's listing
    assert said[len(DIALOGS) - 1].endswith(": Open in apps: notes.md (2 apps connected)")
    assert [line.split(":")[0] for line in said[: len(DIALOGS)]] == [
        f"{name}.png" for name in DIALOGS
    ]
    # then each management action through the windows, checked through the CLI
    assert said[len(DIALOGS) :] == [f"{action}: checked" for action in ACTIONS]
    for name in DIALOGS:
        image = QImage(str(tmp_path / f"{name}.png"))
        assert image.width() >= 300, name
        colours = {image.pixel(x, y) for y in range(0, image.height(), 2)
                   for x in range(0, image.width(), 2)}  # fmt: skip
        assert len(colours) > 20, name  # text and widgets, not a flat fill
    join = QImage(str(tmp_path / "join.png"))
    assert colour_of(DOWN_STYLE) in {join.pixel(x, y) & 0xFFFFFF for y in range(join.height())
                                     for x in range(join.width())}  # fmt: skip


def bar_fill(image: QImage) -> tuple[int, int]:
    """The widest filled part of a progress bar in ``image`` and the empty part right
    after it, in pixels: a run of the bar's blue followed within 3 pixels by white
    (a full bar ends at its frame, then a cell's narrow margin). (0, 0) if none."""
    best = (0, 0)
    for y in range(image.height()):
        row = [image.pixel(x, y) & 0xFFFFFF for x in range(image.width())]
        x = 0
        while x < len(row):
            start = x
            while x < len(row) and is_bar_blue(row[x]):
                x += 1
            if x == start:
                x += 1
                continue
            white = next((w for w in range(x, min(x + 3, len(row))) if row[w] == WHITE), None)
            empty = 0
            while white is not None and white + empty < len(row) and row[white + empty] == WHITE:
                empty += 1
            if x - start > best[0] and empty:
                best = (x - start, empty)
    return best


WHITE = 0xFFFFFF


def is_bar_blue(rgb: int) -> bool:
    """The filled part of a bar: the style's highlight blue, in its shades."""
    red, green, blue = rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF
    return blue > 0x90 and red < 0x80 and blue > green


def colour_of(style: str) -> int:
    """The (background) colour a style names, as 0xRRGGBB."""
    return int(style.split("color: #")[1][:6], 16)
