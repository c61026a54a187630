"""Real daemons as subprocesses on loopback, driven through the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pycrdt

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


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


class Device:
    """One device: a home directory, its share folder, and its daemon process (logging
    at debug level to `home/daemon.log`, so a failed test's log says what happened)."""

    def __init__(self, root: Path, name: str) -> None:
        self.home = root / name
        self.folder = root / f"{name}-share"
        self.id = cli(self.home, "id").stdout.strip()
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self, port: int = 0) -> None:
        with (self.home / "daemon.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "p2psync", "--home", str(self.home), "run",
                 "--listen", f"127.0.0.1:{port}", "--no-mdns", "--log-level", "debug"],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        wait_for(lambda: cli(self.home, "status", "--json", check=False).returncode == 0, "daemon")
        self.address = self.status()["listen"]

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
        cli(self.home, "doc", "apply", str(self.folder / name), str(update_file))

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


def make_share(devices: list[Device]) -> str:
    """One share held by every device, every device a member of it on every other."""
    first = devices[0]
    share = cli(first.home, "share", "add", str(first.folder), "--create").stdout.strip()
    for device in devices[1:]:
        cli(device.home, "share", "add", str(device.folder), "--id", share, "--create")
    for device in devices:
        for other in devices:
            if other is not device:
                cli(device.home, "share", "member", "add", share, other.id)
    return share


def link(devices: list[Device]) -> None:
    """Every running device dials every other one's address."""
    for device in devices:
        for other in devices:
            if other is not device and other.address:
                cli(device.home, "peer", "add", other.id, other.address)
