"""``p2psync demo``: two real daemons sync a document, then everything is cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.interrupts import interruptible

DEADLINE_S = 60.0


def demo_env(tmp_path: Path) -> dict[str, str]:
    """The demo makes its temporary directory under ``tmp_path``."""
    return {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}


def processes_under(root: Path) -> list[str]:
    """Command lines of running processes that mention ``root`` (the demo's daemons)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(root) in text:
            found.append(text)
    return found


def test_demo_syncs_merges_shows_peers_and_cleans_up(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "p2psync", "demo"],
        capture_output=True, text=True, timeout=DEADLINE_S, env=demo_env(tmp_path), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Bob has it" in out
    assert "'Hello from Alice.'" in out
    assert "Merged on both sides" in out
    assert "'Bob was here. Hello from Alice. Bye!'" in out
    assert out.count("DEVICE   NAME") == 2  # both peers tables
    assert "connected" in out
    assert list(tmp_path.iterdir()) == []  # the temporary directory is gone
    assert processes_under(tmp_path) == []  # and both daemons stopped


def test_ctrl_c_stops_the_daemons_and_removes_everything(tmp_path: Path) -> None:
    with subprocess.Popen(
        interruptible([sys.executable, "-m", "p2psync", "demo"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=demo_env(tmp_path),
    ) as demo:  # fmt: skip
        assert demo.stdout is not None
        lines = []
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            line = demo.stdout.readline()
            lines.append(line)
            if line.startswith("Daemons listening") or not line:
                break
        assert lines[-1].startswith("Daemons listening"), lines
        assert len(processes_under(tmp_path)) == 2  # both daemons run
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=DEADLINE_S) == 130
    assert list(tmp_path.iterdir()) == []
    assert processes_under(tmp_path) == []
