"""Screenshot of the tray's History window showing a binary file's versions, on a
real X display with a real tray.

    python gui/tools/history_binary_screenshot.py OUT.png

Sets up the devices of ``status_screenshot.py`` (four daemons on loopback, laptop
sharing Documents with desktop and NAS), then the laptop and the desktop take turns
saving ``diagram.png`` in Documents (``SAVES`` versions, each a different picture
size), Xvfb and wmdocker start, and the real ``p2psync-tray --open-history`` opens
Documents' History window. The window picks the first file, diagram.png (it sorts
before notes.md), and the version before the newest: its versions with their sizes,
and for a binary file one sentence in place of a diff. Once the screen has held
still the window is cut out and saved as OUT.png, and the versions the laptop's
daemon lists are printed (number, kind, size). Exits 1 with one sentence when
something is missing or does not come up. tests/gui/test_screenshot_xvfb.py runs it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # gui/: tools, p2psync_tray

from tools.status_screenshot import (
    SCREEN,
    Screen,
    ScreenshotError,
    Stack,
    devices,
    log_says,
    p2psync,
    settled_window,
    start_display,
    wait_for,
)

NAME = "diagram.png"
SAVES = 4
PNG = b"\x89PNG\r\n\x1a\n"


def picture(number: int) -> bytes:
    """The bytes of save ``number`` (1 is the first): a different size each."""
    return PNG + bytes([number]) * (1500 * number)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def take_turns(root: Path, laptop: Path, desktop: Path) -> tuple[str, list[str]]:
    """diagram.png saved ``SAVES`` times by the laptop and the desktop in turns (a
    version each); the Documents share's ID and the versions the laptop lists."""
    folders = {laptop: root / "laptop-Documents", desktop: root / "desktop-Documents"}
    for number in range(1, SAVES + 1):
        editor = desktop if number % 2 == 0 else laptop
        (folders[editor] / NAME).write_bytes(picture(number))
        for folder in folders.values():
            wait_for(partial(_holds, folder / NAME, picture(number)), f"save {number} synced")
    history = json.loads(p2psync(laptop, "history", str(folders[laptop] / NAME), "--json"))
    rows = [f"{v['number']} {v['kind']} {v['size']}" for v in history["versions"]]
    if len(rows) != SAVES:
        raise ScreenshotError(f"{NAME} has {len(rows)} versions, not {SAVES}")
    status = json.loads(p2psync(laptop, "status", "--json"))
    (share,) = [s for s in status["shares"] if s["path"] == str(folders[laptop])]
    return str(share["id"]), rows


def screenshot(out: Path) -> tuple[tuple[int, int], list[str]]:
    """Make the screenshot; its size and the versions listed."""
    with tempfile.TemporaryDirectory(prefix="p2psync-shot-") as tmp, Stack() as stack:
        root = Path(tmp)
        home, peers = devices(stack, root)
        share, rows = take_turns(root, home, peers[0])
        display = start_display(stack, root)
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        stack.start(["wmdocker", "-display", display, "-iconsize", "24"], root / "tray-host.log")
        tray_log = root / "tray.log"
        (home / "tray.ini").write_text("[notify]\npeers=false\n")  # no balloons in the picture
        stack.start([sys.executable, "-m", "p2psync_tray", "--home", str(home),
                     "--open-history", share], tray_log, env=env)  # fmt: skip
        wait_for(lambda: log_says(tray_log, "tray state: up-to-date"), "the tray app")
        image, (x, y, w, h) = settled_window(Screen(display))
        if (w, h) == SCREEN:
            raise ScreenshotError("no History window on the screen")
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.copy(x, y, w, h).save(str(out)):
            raise ScreenshotError(f"could not write {out}")
        return (w, h), rows


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: history_binary_screenshot.py OUT.png", file=sys.stderr)
        return 2
    try:
        (width, height), rows = screenshot(Path(argv[0]))
    except (ScreenshotError, OSError) as exc:
        print(f"history_binary_screenshot: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: {width}x{height}")
    for row in rows:
        print(f"version {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
