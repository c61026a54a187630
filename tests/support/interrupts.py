"""Commands a test interrupts as Ctrl-C does (SIGINT), started so that the signal
reaches them whatever this test run inherited.

A process started with SIGINT ignored (a background job of a shell without job
control: ``pytest ... &`` in a script, CI runners, ``nohup``) passes that on to every
child, since an ignored signal stays ignored across fork and exec; a Python started so
installs no ``KeyboardInterrupt`` handler, and the test's Ctrl-C changes nothing while
the test waits for the child to stop. ``interruptible`` runs a command through a
Python that puts SIGINT back to its default action and then becomes the command (an
exec: the same process, as the test's ``Popen`` knows it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

RESTORE_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)
"""Run by ``python -c`` ahead of the command given as its arguments."""


def interruptible(argv: Sequence[str]) -> list[str]:
    """``argv`` (a program and its arguments) as a command line that starts it with
    SIGINT at its default action, for a test that stops it with SIGINT."""
    return [sys.executable, "-c", RESTORE_SIGINT, *argv]
