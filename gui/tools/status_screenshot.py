"""Screenshot of the tray app's status window on a real X display, with a real tray.

    python gui/tools/status_screenshot.py OUT.png
    python gui/tools/status_screenshot.py --history OUT.png
    python gui/tools/status_screenshot.py --first-sync OUT.png
    python gui/tools/status_screenshot.py --first-sync-sender OUT.png

Starts, in a temporary directory: four daemons on loopback, "laptop" sharing
Documents with "desktop" and "nas" and Projects with "studio", all connected and in
sync; Xvfb; wmdocker (a system tray host); then the real ``p2psync-tray
--open-status`` for "laptop". Once the tray reports the peers connected (one of them
paused and resumed, so there are events to show) and the screen has stopped
changing, the screen is grabbed, the
status window cut out and saved as OUT.png. Exits 1 with one sentence when something
is missing or does not come up. `make screenshot` makes docs/img/status-window.png
with it; tests/gui/test_screenshot_xvfb.py runs it and checks the pixels.

With ``--history`` it shows the History window of laptop's Documents instead: the
desktop and the laptop take turns editing notes.md (three versions: the desktop's
last save joins the laptop's, the two editing together), the desktop deletes
todo.txt, then the tray runs with ``--open-history``; the window picks notes.md and
the version before the newest, so the picture has a coloured diff.

With ``--first-sync`` it shows the status window of a laptop whose first sync with
a desktop holding ``FIRST_SYNC_FILES`` notes is under way: once the laptop's status
says some of the files arrived, not all, the desktop's daemon is stopped (SIGSTOP)
so the picture holds still mid-way, and the numbers the status said are printed.
``--first-sync-sender`` shows the desktop's window instead, sending the notes: the
laptop's daemon is stopped once some, not all, were sent, and the desktop's figures
(the files the laptop's index says it holds, and their bytes) hold still at once.
Either way the desktop sends at ``FIRST_SYNC_KIB_S`` (``[listen] max_send_kib_s``), so
the sync is seen mid-way.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TypeVar

from PySide6.QtGui import QGuiApplication, QImage

from p2psync.cli.main import main as cli_main
from p2psync.config import load_config, save_config
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import P2PSyncError

DEADLINE_S = 60.0
POLL_S = 0.1
SCREEN = (1280, 800)
BACKGROUND = 0xFF000000  # Xvfb -br: a black root window
T = TypeVar("T")
STILL_S = 3.0  # a daemon's figures that held this long, over two of the tray's polls
SETTLED_FRAMES = 25  # 2.5 s of equal frames (POLL_S apart), over two of the tray's
# polls of its daemon (one a second): the window is done and shows the daemon's state


class ScreenshotError(Exception):
    """Something the screenshot needs is missing or did not come up."""


def wait_for(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > end:
            raise ScreenshotError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def holding_still(read: Callable[[], T], what: str) -> T:
    """What ``read`` returns once it returned the same for ``STILL_S``."""
    since, last = time.monotonic(), read()

    def still() -> bool:
        nonlocal since, last
        now, value = time.monotonic(), read()
        if value != last:
            since, last = now, value
        return now - since >= STILL_S

    wait_for(still, what)
    return last


def run_p2psync(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``p2psync --home HOME ARGS``, the CLI's own ``main`` run in this process: what a
    ``p2psync`` subprocess would print and exit with, without a new Python importing
    the CLI for each of a picture's fifty-odd commands (a quarter to a third of a
    second each on a busy machine). Argument errors exit 2, a crash 1, as there."""
    argv = ["--home", str(home), *args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:  # argparse: a usage error
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:  # a crash: told, as the interpreter would
            print(f"p2psync crashed: {exc!r}", file=sys.stderr)
            code = 1
    return subprocess.CompletedProcess(["p2psync", *argv], code, out.getvalue(), err.getvalue())


def p2psync(home: Path, *args: str) -> str:
    result = run_p2psync(home, *args)
    if result.returncode != 0:
        raise ScreenshotError(f"p2psync {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


class Stack(contextlib.ExitStack):
    """Processes started for the screenshot, ended (TERM, then KILL) on exit."""

    def start(self, args: list[str], log: Path, env: dict[str, str] | None = None,
              pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:  # fmt: skip
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603  # programs of our own choosing
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, pass_fds=pass_fds,
            )  # fmt: skip
        self.callback(_end, process)
        return process


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_device(root: Path, name: str, *, apps: bool = False) -> Path:
    """A device home with its name and a loopback-only config (``apps``: its apps
    endpoint on, at any free port)."""
    home = root / name
    p2psync(home, "id")
    (home / "config.toml").write_text(
        f'[device]\nname = "{name}"\n\n[listen]\naddress = "127.0.0.1:0"\nmdns = false\n'
        + ("\n[apps]\nport = 0\n" if apps else "")
    )
    return home


def folder_of(root: Path, home: Path, folder: str, files: dict[str, str]) -> Path:
    """The device's folder ``folder``, holding ``files``."""
    path = root / f"{home.name}-{folder}"
    path.mkdir()
    for file_name, text in files.items():
        (path / file_name).parent.mkdir(parents=True, exist_ok=True)
        (path / file_name).write_text(text)
    return path


def start_daemon(stack: Stack, home: Path) -> subprocess.Popen[bytes]:
    """Start the daemon of ``home`` (``serving`` waits until it answers)."""
    return stack.start([sys.executable, "-m", "p2psync", "--home", str(home), "run"],
                       home / "daemon.log")  # fmt: skip


def serving(home: Path) -> str:
    """Wait until the daemon of ``home`` answers; return the address it listens on."""
    wait_for(partial(_serves, home), f"the daemon of {home.name}")
    return str(json.loads(p2psync(home, "status", "--json"))["listen"])


SHARES = {
    "Documents": (("desktop", "nas"), {
        "notes.md": "# Notes\n\nShared between the laptop, the desktop and the NAS.\n",
        "todo.txt": "- write the report\n- book the train\n",
    }),
    "Projects": (("studio",), {
        "plan.md": "# Plan\n\n1. sketch\n2. build\n3. ship\n",
        "budget.csv": "item,cost\nwood,120\npaint,35\n",
        "notes/ideas.txt": "a shelf for the hall\n",
    }),
}  # fmt: skip
"""laptop's shares: the peers each is shared with, and the files laptop starts with."""


def devices(stack: Stack, root: Path, *, apps: bool = False) -> tuple[Path, list[Path]]:
    """laptop and its peers (``SHARES``), connected and in sync; their homes (``apps``:
    the laptop's apps endpoint on)."""
    laptop = make_device(root, "laptop", apps=apps)
    peers = {name: make_device(root, name) for name in ("desktop", "nas", "studio")}
    ids = {home: p2psync(home, "id") for home in (laptop, *peers.values())}
    for folder, (names, files) in SHARES.items():
        share = p2psync(laptop, "share", "add", str(folder_of(root, laptop, folder, files)))
        for name in names:
            peer = peers[name]
            p2psync(peer, "share", "add", str(folder_of(root, peer, folder, {})), "--id", share)
            p2psync(laptop, "share", "member", "add", share, ids[peer])
            p2psync(peer, "share", "member", "add", share, ids[laptop])
    for home in (laptop, *peers.values()):  # their start-ups overlap
        start_daemon(stack, home)
    laptop_address = serving(laptop)
    for peer in peers.values():
        serving(peer)
        p2psync(peer, "peer", "add", ids[laptop], laptop_address)

    def in_sync() -> bool:
        status = json.loads(p2psync(laptop, "status", "--json"))
        connected = all(ids[peer] in status["connected"] for peer in peers.values())
        return status["state"] == "up-to-date" and connected

    wait_for(in_sync, "laptop and its peers to connect and sync")
    return laptop, list(peers.values())


def start_display(stack: Stack, root: Path) -> str:
    """Xvfb on a free display number (it picks one and tells us); returns ``:N``."""
    for program in ("Xvfb", "wmdocker"):
        if shutil.which(program) is None:
            raise ScreenshotError(
                f"{program} is not installed (run 'make system-deps', or as root: "
                "apt-get install --no-install-recommends xvfb wmdocker)"
            )
    read_fd, write_fd = os.pipe()
    width, height = SCREEN
    stack.start(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
                 "-br", "-nolisten", "tcp"], root / "xvfb.log", pass_fds=(write_fd,))  # fmt: skip
    os.close(write_fd)
    with os.fdopen(read_fd) as numbers:
        number = numbers.readline().strip()
    if not number:
        raise ScreenshotError(f"Xvfb did not start (see {root / 'xvfb.log'})")
    return f":{number}"


def log_says(log: Path, *needles: str) -> bool:
    text = log.read_text(errors="replace") if log.exists() else ""
    return all(needle in text for needle in needles)


def count_in(log: Path, needle: str) -> int:
    return log.read_text(errors="replace").count(needle)


def last_state(log: Path) -> str:
    states = [line.rsplit(": ", 1)[-1] for line in log.read_text(errors="replace").splitlines()
              if "tray state: " in line]  # fmt: skip
    return states[-1] if states else ""


class Screen:
    """The screen of an X display, seen through a QGuiApplication on it."""

    def __init__(self, display: str) -> None:
        os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        self.app = QGuiApplication.instance() or QGuiApplication([])

    def grab(self) -> QImage:
        return QGuiApplication.primaryScreen().grabWindow(0).toImage()


def window_rect(image: QImage) -> tuple[int, int, int, int]:
    """The bounding box (x, y, w, h) of the pixels that are not background."""
    xs, ys = [], []
    for y in range(0, image.height(), 4):
        for x in range(0, image.width(), 4):
            if image.pixel(x, y) != BACKGROUND:
                xs.append(x)
                ys.append(y)
    if not xs:
        return (0, 0, 0, 0)
    x0, y0 = max(0, min(xs) - 3), max(0, min(ys) - 3)
    return (x0, y0, min(image.width(), max(xs) + 4) - x0, min(image.height(), max(ys) + 4) - y0)


NOTES = [
    "# Notes\n\nShared between the laptop, the desktop and the NAS.\n",
    "# Notes\n\nShared between the laptop, the desktop and the NAS.\n\n- buy paint\n",
    "# Notes\n\nShared by the laptop, the desktop and the NAS.\n\n- buy paint\n- fix the shelf\n",
    "# Notes\n\nShared by the laptop, the desktop and the NAS.\n\n- buy wood\n- fix the shelf\n"
    "- call Sam\n",
]  # fmt: skip
"""notes.md as the laptop starts it, then as the desktop, laptop, desktop save it."""
VERSIONS = (len(NOTES) - 1, len(NOTES))
"""The desktop's last save, seconds after the laptop's that followed its own, joins
the laptop's version (devices editing together, docs/history.md); on a machine so
busy that the turns came 10 s apart, each is a version."""


def take_turns(root: Path, laptop: Path, desktop: Path) -> str:
    """notes.md edited in turns (``VERSIONS``), todo.txt deleted by the desktop;
    returns the Documents share's ID."""
    folders = {laptop: root / "laptop-Documents", desktop: root / "desktop-Documents"}
    for number, text in enumerate(NOTES[1:], start=1):
        editor = desktop if number % 2 else laptop
        (folders[editor] / "notes.md").write_text(text)
        for folder in folders.values():
            wait_for(partial(_holds, folder / "notes.md", text), f"edit {number} synced")
    (folders[desktop] / "todo.txt").unlink()
    wait_for(lambda: not (folders[laptop] / "todo.txt").exists(), "the deletion synced")
    status = json.loads(p2psync(laptop, "status", "--json"))
    (share,) = [s for s in status["shares"] if s["path"] == str(folders[laptop])]
    history = json.loads(p2psync(laptop, "history", str(folders[laptop] / "notes.md"), "--json"))
    versions = history["versions"]
    if len(versions) not in VERSIONS or (len(versions) < len(NOTES)) != ("others" in versions[0]):
        raise ScreenshotError(f"notes.md has {len(versions)} versions, not {VERSIONS[0]} with "
                              f"the newest made by both devices, or {VERSIONS[1]}")  # fmt: skip
    return str(share["id"])


def _holds(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def scene(root: Path, *, history: bool = False) -> Iterator[tuple[str, Path, Path]]:
    """Devices, display, tray host and tray app up; yields the display, the tray's
    log and the peer's home. ``history``: the History window of Documents instead of
    the status window, after ``take_turns``."""
    with Stack() as stack:
        home, peers = devices(stack, root)
        opened = ["--open-status"]
        if history:
            opened = ["--open-history", take_turns(root, home, peers[0])]
        display = start_display(stack, root)
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        stack.start(["wmdocker", "-display", display, "-iconsize", "24"], root / "tray-host.log")
        tray_log = root / "tray.log"
        # no notification balloons over the window in the picture
        (home / "tray.ini").write_text("[notify]\npeers=false\n")
        stack.start([sys.executable, "-m", "p2psync_tray", "--home", str(home), *opened],
                    tray_log, env=env)  # fmt: skip
        yield display, tray_log, peers[0]


def screenshot(out: Path) -> tuple[int, int]:
    """Make the screenshot; return its size."""
    with tempfile.TemporaryDirectory(prefix="p2psync-shot-") as tmp, scene(Path(tmp)) as (
        display, tray_log, peer,
    ):  # fmt: skip
        wait_for(lambda: log_says(tray_log, "3 of 3 peers connected", "tray state: up-to-date"),
                 "the tray app to show the connected peers")  # fmt: skip
        if log_says(tray_log, "no system tray"):
            raise ScreenshotError("the tray app found no system tray on the display")
        # the peer leaves and comes back, so the window has events to show
        left = count_in(tray_log, "2 of 3 peers connected")
        p2psync(peer, "pause")
        wait_for(lambda: count_in(tray_log, "2 of 3 peers connected") > left, "the peer to leave")
        p2psync(peer, "resume")
        wait_for(lambda: count_in(tray_log, "3 of 3 peers connected") == 2
                 and last_state(tray_log) == "up-to-date", "the peer to come back")  # fmt: skip
        screen = Screen(display)
        frames: list[QImage] = []

        def settled() -> bool:
            frames.append(screen.grab())
            return len(frames) >= 2 and frames[-1] == frames[-2]

        wait_for(settled, "the screen to settle")
        image = frames[-1]
        x, y, w, h = window_rect(image)
        if w < 400 or h < 300:
            raise ScreenshotError(f"no status window on the screen (found {w}x{h} at {x},{y})")
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.copy(x, y, w, h).save(str(out)):
            raise ScreenshotError(f"could not write {out}")
        return w, h


def settled_window(screen: Screen) -> tuple[QImage, tuple[int, int, int, int]]:
    """The screen once it held still for a second with a window on it, and where the
    window is."""
    frames: list[QImage] = []

    def settled() -> bool:
        frames.append(screen.grab())
        recent = frames[-SETTLED_FRAMES:]
        if len(recent) < SETTLED_FRAMES or any(frame != recent[0] for frame in recent):
            return False
        _, _, w, h = window_rect(recent[0])
        return w >= 600 and h >= 400

    wait_for(settled, "a window on the screen, holding still")
    return frames[-1], window_rect(frames[-1])


def history_screenshot(out: Path) -> tuple[int, int]:
    """Make the History window's screenshot; return its size."""
    with tempfile.TemporaryDirectory(prefix="p2psync-shot-") as tmp, scene(
        Path(tmp), history=True
    ) as (display, tray_log, _peer):  # fmt: skip
        wait_for(lambda: log_says(tray_log, "tray state: up-to-date"), "the tray app")
        image, (x, y, w, h) = settled_window(Screen(display))
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.copy(x, y, w, h).save(str(out)):
            raise ScreenshotError(f"could not write {out}")
        return w, h


FIRST_SYNC_FILES = 1500
NOTE = "A line of a note kept on the desktop, synced to the laptop.\n" * 12
FIRST_SYNC_KIB_S = 256
"""The desktop's send limit (``[listen] max_send_kib_s``): its 1.1 MB of notes take
about four seconds, so the sync is caught a third of the way, not over between two
looks (a link writes what is queued together: unlimited, it took a few hundred ms)."""


def limit_sending(home: Path, kib_s: int) -> None:
    """Set ``[listen] max_send_kib_s`` in the config of ``home`` (its daemon stopped)."""
    path = Home.resolve(home).config_path
    save_config(path, replace(load_config(path), max_send_kib_s=kib_s))


def transfer_figures(home: Path, *, sending: bool) -> tuple[int, int, int]:
    """``(files received, files expected, bytes received)`` of home's one share with a
    member, from its daemon's status; with ``sending``, ``(files sent, files to send,
    bytes sent)``."""
    client = ControlClient(Home.resolve(home).socket_path)
    try:
        status = client.call("status")
    finally:
        client.close()
    (share,) = [s for s in status["shares"] if s["members"]]
    keys = ("files_sent", "files_to_send", "bytes_sent") if sending else (
        "files_received", "files_expected", "bytes_received")  # fmt: skip
    return share[keys[0]], share[keys[1]], share[keys[2]]


def first_sync_screenshot(out: Path, *, sender: bool = False) -> tuple[int, int]:
    """Make the status window's picture mid-way through a first sync; return its size.
    The laptop's window, which receives the notes (the desktop's daemon is stopped
    mid-way); with ``sender``, the desktop's, which sends them (the laptop's daemon is
    stopped mid-way: the desktop counts as sent what the laptop's index says it holds,
    so what it goes on writing into the connection's buffers does not move it)."""
    with tempfile.TemporaryDirectory(prefix="p2psync-shot-") as tmp, Stack() as stack:
        root = Path(tmp)
        laptop, desktop = make_device(root, "laptop"), make_device(root, "desktop")
        notes = {f"notes/note-{n:04}.md": NOTE for n in range(FIRST_SYNC_FILES)}
        share = p2psync(desktop, "share", "add", str(folder_of(root, desktop, "Documents", notes)))
        empty = folder_of(root, laptop, "Documents", {})
        p2psync(laptop, "share", "add", str(empty), "--id", share)
        p2psync(desktop, "share", "member", "add", share, p2psync(laptop, "id"))
        p2psync(laptop, "share", "member", "add", share, p2psync(desktop, "id"))
        limit_sending(desktop, FIRST_SYNC_KIB_S)
        daemons = {}
        for home in (desktop, laptop):  # their start-ups overlap
            daemons[home] = start_daemon(stack, home)
            stack.callback(_resume, daemons[home])  # a stopped daemon does not end on SIGTERM
        for home in (desktop, laptop):
            serving(home)
        wait_for(lambda: json.loads(p2psync(desktop, "status", "--json"))["shares"][0]
                 .get("files") == FIRST_SYNC_FILES, "the desktop to take in its notes")  # fmt: skip
        address = json.loads(p2psync(desktop, "status", "--json"))["listen"]
        shown, stopped = (desktop, laptop) if sender else (laptop, desktop)
        figures = partial(transfer_figures, shown, sending=sender)
        display = start_display(stack, root)
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        stack.start(["wmdocker", "-display", display, "-iconsize", "24"], root / "tray-host.log")
        tray_log = root / "tray.log"
        (shown / "tray.ini").write_text("[notify]\npeers=false\n")
        stack.start([sys.executable, "-m", "p2psync_tray", "--home", str(shown),
                     "--open-status"], tray_log, env=env)  # fmt: skip
        wait_for(lambda: log_says(tray_log, "tray state: "), "the tray app")
        p2psync(laptop, "peer", "add", p2psync(desktop, "id"), address)
        wait_for(lambda: 0.3 * (got := figures())[1] < got[0] < got[1] - 1,
                 "a third of the notes to go across")  # fmt: skip
        daemons[stopped].send_signal(signal.SIGSTOP)
        # what was on the wire when the other end stopped still counts
        held = holding_still(figures, "the first sync to hold still")
        wait_for(lambda: last_state(tray_log) == "syncing", "the tray to say syncing")
        image, (x, y, w, h) = settled_window(Screen(display))
        files, expected, moved_bytes = figures()
        if not 0 < files < expected:
            raise ScreenshotError(f"the first sync is not mid-way: {files} of {expected} files")
        if (files, expected, moved_bytes) != held:
            raise ScreenshotError(f"the first sync moved on during the picture: {held} then "
                                  f"{(files, expected, moved_bytes)}")  # fmt: skip
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.copy(x, y, w, h).save(str(out)):
            raise ScreenshotError(f"could not write {out}")
        print(f"{'sent' if sender else 'received'} {files} of {expected} files, "
              f"{moved_bytes} bytes")  # fmt: skip
        return w, h


def _serves(home: Path) -> bool:
    """Whether the daemon of ``home`` answers a status call on its control socket."""
    try:
        with ControlClient(Home.resolve(home).socket_path) as client:
            client.call("status")
    except (P2PSyncError, OSError):  # none yet, or one still starting
        return False
    return True


def _resume(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)


SHOTS: dict[str, Callable[[Path], tuple[int, int]]] = {
    "--history": history_screenshot,
    "--first-sync": first_sync_screenshot,
    "--first-sync-sender": partial(first_sync_screenshot, sender=True),
}


def main(argv: list[str]) -> int:
    shoot = SHOTS.get(argv[0], screenshot) if argv else screenshot
    argv = argv[1:] if argv and argv[0] in SHOTS else argv
    if len(argv) != 1:
        print("usage: status_screenshot.py [--history | --first-sync | --first-sync-sender] "
              "OUT.png", file=sys.stderr)  # fmt: skip
        return 2
    try:
        width, height = shoot(Path(argv[0]))
    except (ScreenshotError, OSError) as exc:
        print(f"status_screenshot: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: {width}x{height}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
