"""The ``p2psync-tray`` command line: version, usage errors, and a clean stop on
SIGTERM with no daemon running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from p2psync import __version__
from tests.support.daemons import wait_for


def tray(*args: str) -> list[str]:
    return [sys.executable, "-m", "p2psync_tray", *args]


def test_version() -> None:
    result = subprocess.run(tray("--version"), capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.strip() == f"p2psync-tray {__version__}"


def test_usage_error_is_one_sentence() -> None:
    result = subprocess.run(tray("--bogus"), capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "p2psync-tray: unrecognized arguments: --bogus (see 'p2psync-tray --help')"
    ]


def test_runs_without_daemon_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "tray.log"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            tray("--home", str(tmp_path / "home")), stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        no_tray = "no system tray on this desktop: showing the status window instead"
        wait_for(lambda: no_tray in log.read_text(), "the tray to start")
        assert "tray state: not-running" in log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text()
