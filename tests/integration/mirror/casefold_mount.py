"""Mounting ``casefold_fs`` for a test: a real case-insensitive folder, or a clear failure.

``casefold_folder(backing, mountpoint)`` starts the FUSE process, waits until the
mount is there, and on exit unmounts it and waits for the process. When FUSE cannot
be used here (no ``/dev/fuse``, no ``fusermount3``, no mfusepy, the mount never
appears) the test fails saying what to install: a skipped test would hide that the
case-insensitive behaviour went untested.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MOUNT_DEADLINE_S = 10.0
POLL_S = 0.02


def _unusable() -> str | None:
    if not Path("/dev/fuse").exists():
        return "/dev/fuse does not exist"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is missing (packaging/system-deps.sh installs fuse3)"
    if importlib.util.find_spec("mfusepy") is None:
        return "mfusepy is missing (pip install -c constraints.txt -e '.[test]')"
    return None


@contextlib.contextmanager
def casefold_folder(backing: Path, mountpoint: Path) -> Iterator[Path]:
    """``mountpoint``, showing ``backing`` case-insensitively, while inside."""
    reason = _unusable()
    if reason is not None:
        pytest.fail(f"a case-insensitive folder needs FUSE: {reason}")
    backing.mkdir(parents=True, exist_ok=True)
    mountpoint.mkdir(parents=True, exist_ok=True)
    log = backing.parent / f"{mountpoint.name}-fuse.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.mirror.casefold_fs", str(backing),
             str(mountpoint)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        end = time.monotonic() + MOUNT_DEADLINE_S
        while not os.path.ismount(mountpoint):
            if process.poll() is not None or time.monotonic() > end:
                pytest.fail(f"the FUSE mount at {mountpoint} did not come up: "
                            f"{log.read_text(errors='replace')[-2000:]}")  # fmt: skip
            time.sleep(POLL_S)
        yield mountpoint
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], check=False,
                       capture_output=True)  # fmt: skip
        try:
            process.wait(timeout=MOUNT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
