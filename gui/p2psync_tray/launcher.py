"""Starting the daemon (``p2psync run``) from the tray when none is running, and
telling how it ended.

The daemon runs in its own session, so it keeps syncing after the tray quits; its
output goes to ``<home>/daemon.log``. It is started through the installed ``p2psync``
entry point when there is one beside this interpreter, and always in the home
directory: ``python -m p2psync`` run from the folder holding a clone of p2psync
would import the clone's ``p2psync/`` folder instead of the installed package.
"""

from __future__ import annotations

import logging
import signal
import subprocess
from pathlib import Path

from p2psync.control.home import Home, daemon_command

log = logging.getLogger(__name__)

DAEMON_LOG = "daemon.log"
TAIL_BYTES = 16384
ERROR_MARKERS = ("error", "Error", "ERROR", "failed", "cannot", "Traceback", "p2psync: ")
"""What makes a log line read as an error; ``p2psync: `` starts the one sentence the
command line ends with when it refuses to run (a bad config, a home in use)."""


def launch_command(home: Home) -> list[str]:
    """The daemon's command line, independent of the working directory."""
    command = daemon_command(home)
    if command[1:3] != ["-m", "p2psync"]:
        return command  # a bundle's executable: the CLI itself
    script = Path(command[0]).with_name("p2psync")
    if script.is_file():
        return [str(script), *command[3:]]
    return [command[0], "-P", *command[1:]]  # -P: no working directory on sys.path


def start_daemon(home: Path | None, home_dir: Path) -> subprocess.Popen[bytes]:
    """Start a daemon for ``home`` (``home_dir`` is where it lives, for the log).

    Raises OSError when the process cannot be started or the log cannot be opened.
    """
    home_dir.mkdir(parents=True, exist_ok=True)
    command = launch_command(Home.resolve(home))
    with (home_dir / DAEMON_LOG).open("ab") as output:
        process = subprocess.Popen(  # noqa: S603  # our own entry point or interpreter
            command,
            cwd=home_dir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.info("started the daemon for %s (pid %d): %s", home_dir, process.pid, command)
    return process


def last_error_line(log_path: Path) -> str:
    """The last line of the log that reads as an error; "" when there is none (a
    daemon killed by a signal logs no error: its last line, say "listening on …",
    would read as the cause), or the log is missing."""
    try:
        with log_path.open("rb") as log_file:
            size = log_file.seek(0, 2)
            log_file.seek(max(0, size - TAIL_BYTES))
            tail = log_file.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    errors = [line for line in lines if any(m in line for m in ERROR_MARKERS)]
    return (errors or [""])[-1]


def exit_words(code: int) -> str:
    """``exited with 2`` / ``was killed by SIGKILL``."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with {code}"


def ended_sentence(code: int, log_path: Path, *, started: bool) -> str:
    """What to tell about a daemon process of ours that ended with ``code``."""
    what = "The daemon crashed" if started else "The daemon did not start"
    line = last_error_line(log_path)
    said = f": {line}" if line else ""
    return f"{what} (it {exit_words(code)}){said}. Its log is {log_path}."
