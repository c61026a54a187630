"""Starting the daemon (``p2psync run``) from the tray when none is running.

The daemon runs in its own session, so it keeps syncing after the tray quits; its
output goes to ``<home>/daemon.log``.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from p2psync.daemon.home import Home, daemon_command

log = logging.getLogger(__name__)

DAEMON_LOG = "daemon.log"


def start_daemon(home: Path | None, home_dir: Path) -> subprocess.Popen[bytes]:
    """Start a daemon for ``home`` (``home_dir`` is where it lives, for the log).

    Raises OSError when the process cannot be started or the log cannot be opened.
    """
    home_dir.mkdir(parents=True, exist_ok=True)
    command = daemon_command(Home.resolve(home))
    with (home_dir / DAEMON_LOG).open("ab") as output:
        process = subprocess.Popen(  # noqa: S603  # our own interpreter and module
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.info("started the daemon for %s (pid %d)", home_dir, process.pid)
    return process
