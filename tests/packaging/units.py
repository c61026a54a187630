"""Helpers for the packaging tests: verifying a unit with systemd's own parser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def verify_unit(unit: Path, runtime_dir: Path) -> list[str]:
    """What ``systemd-analyze --user verify`` objects to in ``unit`` (empty: nothing).

    It exits 0 on many problems (an unknown value is only a warning), so every line it
    prints about the file counts. ``runtime_dir`` stands in for ``$XDG_RUNTIME_DIR``,
    which the user manager needs even offline.
    """
    assert SYSTEMD_ANALYZE is not None
    runtime_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime_dir), "HOME": "/"},
    )
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    if done.returncode != 0 and not complaints:
        complaints = [f"exit status {done.returncode}: {done.stderr.strip()}"]
    return complaints
