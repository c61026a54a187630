"""How long ``p2psync status --json`` takes against a running daemon, judged against
``python -c "import p2psync.control"`` (the interpreter and the control client's
package) measured in the same rounds (issue 16: at most 1.5 times).

Each is a fresh process, as a person or a script runs it; the two alternate, round
after round, so that both see the same load. The CLI imports a command's module only
when that command runs (cli/main.py), so ``status`` loads the control client, not the
daemon; importing the daemon (what every command loaded before) is timed too, for the
note.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO_DIR, BenchContext, Metric, timed
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import DaemonNotRunningError

GROUP = "CLI start (issue 16)"
ROUNDS = 30
START_DEADLINE_S = 30.0
CLI = "import sys; from p2psync.cli.main import main; sys.exit(main())"
"""What the ``p2psync`` console script runs."""


def run(ctx: BenchContext) -> None:
    rounds = 5 if ctx.quick else ROUNDS
    paths = [str(REPO_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    anchor = [sys.executable, "-c", "import p2psync.control"]
    daemon_import = [sys.executable, "-c", "import p2psync.daemon.daemon"]
    with tempfile.TemporaryDirectory(prefix="p2psync-bench-cli-") as tmp:
        home = Path(tmp) / "home"
        status = [sys.executable, "-c", CLI, "--home", str(home), "status", "--json"]
        daemon = subprocess.Popen(
            [sys.executable, "-m", "p2psync", "--home", str(home), "run",
             "--listen", "127.0.0.1:0", "--no-mdns", "--log-level", "warning"],
            cwd=REPO_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_for_daemon(Home(home))
            times: dict[str, list[float]] = {"anchor": [], "status": [], "daemon": []}
            for _ in range(rounds):
                times["anchor"].append(timed(lambda: _run(anchor, env)))
                times["status"].append(timed(lambda: _run(status, env)))
                times["daemon"].append(timed(lambda: _run(daemon_import, env)))
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    anchor_s, status_s = (statistics.median(times[k]) for k in ("anchor", "status"))
    daemon_s = statistics.median(times["daemon"])
    ctx.report(Metric(
        GROUP, "`p2psync status --json`, daemon running, median", status_s, "s",
        '`python -c "import p2psync.control"`, median', anchor_s, target_ratio=1.5,
        note=f"fresh processes, {rounds} rounds alternating the two (and a third, "
             f'`python -c "import p2psync.daemon.daemon"`: {daemon_s * 1000:.0f} ms, what '
             "every command imported before the CLI imported a command's module only when "
             f"it runs); best of each: {min(times['status']) * 1000:.0f} ms and "
             f"{min(times['anchor']) * 1000:.0f} ms",
    ))  # fmt: skip


def _run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, cwd=REPO_DIR, env=env, stdout=subprocess.DEVNULL, check=True)


def _wait_for_daemon(home: Home) -> None:
    """Until the daemon answers on its control socket (it opens it last, once ready)."""
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        try:
            with ControlClient(home.socket_path, timeout_s=5.0) as client:
                client.call("hello")
                return
        except DaemonNotRunningError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
