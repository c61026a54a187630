"""Real daemons as subprocesses on loopback.

A test sets devices up with ``setup``: the CLI's own ``main`` called in this process
(the same config and identity files, the same control calls to a running daemon),
without starting a Python that imports the daemon for every command. ``cli`` runs
``p2psync`` as a user does, for the tests of the CLI itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pycrdt

from p2psync.cli.main import main as cli_main
from p2psync.config import load_config, save_config
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import P2PSyncError
from tests.support.forkserver import launch

DEADLINE_S = 30.0
POLL_S = 0.05
LOADED = re.compile(r"share \S+: doc (.+) loaded$", re.MULTILINE)


def cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "p2psync", "--home", str(home), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"p2psync {' '.join(args)} failed: {result.stderr}")
    return result


_IN_PROCESS = threading.Lock()
"""``setup`` swaps ``sys.stdout``: one call at a time."""


def setup(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``p2psync --home HOME ARGS`` run in this process: what ``cli`` returns (exit
    code, output, errors), for set-up that is not what a test is about."""
    argv = ["--home", str(home), *args]
    out, err = io.StringIO(), io.StringIO()
    with _IN_PROCESS, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:  # argparse: a usage error, or --help
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:  # a crash: a traceback and exit 1, as the interpreter gives
            traceback.print_exc()
            code = 1
    result = subprocess.CompletedProcess(["p2psync", *argv], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"p2psync {' '.join(args)} failed: {result.stderr}")
    return result


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


class Device:
    """One device: a home directory, its share folder, and its daemon process (logging
    at debug level to `home/daemon.log`, so a failed test's log says what happened),
    forked from a Python that has imported the daemon already (``forkserver``)."""

    log_level = "debug"
    """The daemon's ``--log-level`` (a benchmark timing the daemon against another
    program runs it at its default, info)."""

    def __init__(self, root: Path, name: str) -> None:
        self.home = root / name
        self.folder = root / f"{name}-share"
        self.id = setup(self.home, "id").stdout.strip()
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self, port: int = 0) -> None:
        self.launch(port)
        self.wait_serving()

    def launch(self, port: int = 0) -> None:
        """Start the daemon without waiting for it to serve (``wait_serving``)."""
        self.process = launch(
            ["--home", str(self.home), "run", "--listen", f"127.0.0.1:{port}", "--no-mdns",
             "--log-level", self.log_level],
            self.home / "daemon.log",
        )  # fmt: skip

    def wait_serving(self) -> None:
        """Wait until the launched daemon answers; fail at once if it exited."""
        wait_for(self._answers, "daemon")
        self.address = self.ask("status")["listen"]

    def _answers(self) -> bool:
        if self.process is not None and (code := self.process.poll()) is not None:
            log = (self.home / "daemon.log").read_text(errors="replace")
            raise AssertionError(
                f"the daemon of {self.home.name} exited ({_exit_status(code)}): {log[-2000:]}"
            )
        try:
            self.ask("status")
        except (P2PSyncError, OSError):  # none yet, or one still starting
            return False
        return True

    def ask(self, method: str, **params: Any) -> Any:
        """One control API call to the running daemon; the reply as JSON would give it."""
        with ControlClient(Home(self.home).socket_path) as client:
            return json.loads(json.dumps(client.call(method, **params)))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(timeout=DEADLINE_S)
            self.process = None

    def log_mark(self) -> int:
        """Where the daemon's log ends now: ``docs_loaded_since`` reads from there."""
        path = self.home / "daemon.log"
        return path.stat().st_size if path.exists() else 0

    def docs_loaded_since(self, mark: int = 0) -> set[str]:
        """The docs the daemon says it loaded (``doc NAME loaded``, logged at debug
        level) since ``mark`` (``log_mark``): what it did, whatever unloaded since."""
        with (self.home / "daemon.log").open("rb") as file:
            file.seek(mark)
            text = file.read().decode(errors="replace")
        return set(LOADED.findall(text))

    def status(self) -> Any:
        """``status --json``, run as a user runs it: a test polls status and doc
        contents through the CLI, whose start-up time leaves the daemon the moment
        to finish what it is doing (writing the file, its record) that tests of the
        folder after a sync have always had."""
        return json.loads(cli(self.home, "status", "--json").stdout)

    def apply_text(self, name: str, text: str, *, client_id: int) -> None:
        """Append ``text`` to the doc of ``name`` with ``doc apply``."""
        doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
        doc.apply_update(self.export(name) or b"\x00\x00")
        before = doc.get_state()
        content = doc.get("content", type=pycrdt.Text)
        content.insert(len(content), text)
        update_file = self.home / "update.bin"
        update_file.write_bytes(doc.get_update(before))
        setup(self.home, "doc", "apply", str(self.folder / name), str(update_file))

    def export(self, name: str) -> bytes | None:
        out = self.home / "export.bin"
        result = cli(
            self.home, "doc", "export", str(self.folder / name), "-o", str(out), check=False
        )
        return out.read_bytes() if result.returncode == 0 else None

    def text(self, name: str) -> str | None:
        state = self.export(name)
        if state is None:
            return None
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        doc.apply_update(state)
        return str(doc.get("content", type=pycrdt.Text))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_all(devices: Sequence[Device]) -> None:
    """Start every device's daemon at once, then wait until each serves."""
    for device in devices:
        device.launch()
    for device in devices:
        device.wait_serving()


def stop_all(devices: Sequence[Device], sig: int = signal.SIGTERM) -> None:
    """Signal every device's daemon at once, then wait for each to exit: their
    shutdowns (farewells to peers, last flushes) overlap instead of adding up."""
    running = [d for d in devices if d.process is not None]
    for device in running:
        assert device.process is not None
        device.process.send_signal(sig)
    for device in running:
        assert device.process is not None
        device.process.wait(timeout=DEADLINE_S)
        device.process = None


def make_share(devices: list[Device]) -> str:
    """One share held by every device, every device a member of it on every other."""
    first = devices[0]
    share = setup(first.home, "share", "add", str(first.folder), "--create").stdout.strip()
    for device in devices[1:]:
        setup(device.home, "share", "add", str(device.folder), "--id", share, "--create")
    for device in devices:
        for other in devices:
            if other is not device:
                setup(device.home, "share", "member", "add", share, other.id)
    return share


def dial_first(dialer: Device, other: Device) -> None:
    """``dialer`` dials ``other`` and connects before ``other`` knows its address: the
    link is the dialer's "static" one (both dialing at once, the tie-break between the
    two links picks one by the devices' IDs). ``link`` the two afterwards as usual."""
    setup(dialer.home, "peer", "add", other.id, other.address)
    wait_for(lambda: other.id in dialer.status()["connected"], f"{dialer.home.name} dialing")


def _exit_status(code: int) -> str:
    """How a process ended, as its exit code says (negative: the signal that killed it)."""
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def limit_sending(device: Device, kib_s: int) -> None:
    """Set ``[listen] max_send_kib_s`` in ``device``'s config (its daemon not running):
    a first sync then goes slowly enough to be seen mid-way (unlimited, a link writes
    what is queued together, and 1,000 small files cross in a few hundred ms)."""
    path = device.home / "config.toml"
    save_config(path, replace(load_config(path), max_send_kib_s=kib_s))


def unload_quickly(device: Device, seconds: float = 0.5) -> None:
    """Set ``[docs] idle_unload_s`` in ``device``'s config (its daemon not running):
    its docs leave memory ``seconds`` after their last use."""
    path = device.home / "config.toml"
    save_config(path, replace(load_config(path), idle_unload_s=seconds))


def link(devices: list[Device]) -> None:
    """Every running device dials every other one's address."""
    for device in devices:
        for other in devices:
            if other is not device and other.address:
                setup(device.home, "peer", "add", other.id, other.address)
