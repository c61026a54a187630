"""The installed PySide6 passes Python values through signals without corrupting
their reference counts.

PySide6 6.12.0 did: after emitting a dict holding True to a Python slot (or
triggering a QAction connected to a lambda) a few thousand times, the interpreter
aborted at exit ("bool_dealloc: deallocating True or False"), which is how a whole
test run of the tray app ended. constraints.txt pins a release without that bug;
this test stops a bump that brings it back.
"""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QMenu

app = QApplication([])

class Source(QObject):
    fired = Signal(object)

source, got = Source(), []
source.fired.connect(got.append)
menu = QMenu()
for _ in range(2000):
    source.fired.emit({"flag": True, "none": None})
    action = menu.addAction("entry")
    action.setCheckable(True)
    action.triggered.connect(lambda _checked=False: got.append(None))
    action.trigger()
print(len(got))
"""


def test_signals_keep_reference_counts_through_exit() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True, text=True, timeout=120, check=False,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "4000"
