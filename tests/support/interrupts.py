"""Commands a test interrupts as Ctrl-C does (SIGINT), started so that the signal
reaches them whatever this test run inherited.

A process started with SIGINT ignored (a background job of a shell without job
control: ``pytest ... &`` in a script, CI runners, ``nohup``) passes that on to every
child, since an ignored signal stays ignored across fork and exec; a Python started so
installs no ``KeyboardInterrupt`` handler, and the test's Ctrl-C changes nothing while
the test waits for the child to stop. ``interruptible`` runs a command through a
Python that puts SIGINT back to its default action and then becomes the command (an
exec: the same process, as the test's ``Popen`` knows it). ``killed_on_exit`` ends a
child the test reads from a thread that did not stop, so that the test fails instead
of hanging.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

RESTORE_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)
"""Run by ``python -c`` ahead of the command given as its arguments."""


def interruptible(argv: Sequence[str]) -> list[str]:
    """``argv`` (a program and its arguments) as a command line that starts it with
    SIGINT at its default action, for a test that stops it with SIGINT."""
    return [sys.executable, "-c", RESTORE_SIGINT, *argv]


@contextmanager
def killed_on_exit(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """``process``, killed (SIGKILL) when the block is left while it still runs.

    Inside ``with Popen(...) as process, killed_on_exit(process)``: when a test fails
    while a thread of it is blocked reading the child's output, ``Popen``'s own exit
    closes that output first and waits for the reader's lock, which it holds until the
    child writes or ends; a child that ignored its Ctrl-C would keep the test waiting
    forever, past pytest-timeout's alarm too. Killed, it ends, the read returns, and
    the test fails with its own error."""
    try:
        yield process
    finally:
        process.kill()
