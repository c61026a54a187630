"""``tests/support/interrupts.py``: a command started with ``interruptible`` takes
Ctrl-C (SIGINT) even when the test run was started with SIGINT ignored, as a
background job of a shell without job control is."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.support.interrupts import interruptible

HANDLER = (
    "import signal; handler = signal.getsignal(signal.SIGINT); "
    "print({signal.default_int_handler: 'KeyboardInterrupt', signal.SIG_IGN: 'ignored'}"
    ".get(handler, 'other'))"
)
"""A child that says what SIGINT does to it."""


def handler_under_ignored_sigint(command: list[str]) -> str:
    """What SIGINT does to ``command`` (a Python running ``HANDLER``) when its parent,
    a Python started with SIGINT ignored, runs it."""
    parent = (
        "import signal, subprocess, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "sys.exit(subprocess.run(sys.argv[1:], check=False).returncode)"
    )
    result = subprocess.run(
        [sys.executable, "-c", parent, *command],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def test_a_child_of_a_run_that_ignores_sigint_ignores_it_too() -> None:
    """The case ``interruptible`` is for: without it, the child ignores SIGINT."""
    assert handler_under_ignored_sigint([sys.executable, "-c", HANDLER]) == "ignored"


def test_an_interruptible_child_takes_sigint_as_keyboard_interrupt() -> None:
    command = interruptible([sys.executable, "-c", HANDLER])
    assert handler_under_ignored_sigint(command) == "KeyboardInterrupt"


def test_an_interruptible_child_stops_on_sigint() -> None:
    """Sent SIGINT, the child stops at once: its KeyboardInterrupt, not caught, ends it
    by the signal (a return code of -SIGINT)."""
    waiting = "import sys, time; print('ready', flush=True); time.sleep(60)"
    parent = "\n".join([
        "import signal, subprocess, sys",
        "signal.signal(signal.SIGINT, signal.SIG_IGN)",
        "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)",
        "child.stdout.readline()",
        "child.send_signal(signal.SIGINT)",
        "try:",
        "    print(child.wait(timeout=20))",
        "except subprocess.TimeoutExpired:",
        "    child.kill()",
        "    print('still running')",
    ])  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", parent, *interruptible([sys.executable, "-c", waiting])],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(-signal.SIGINT)
