"""How long ``p2psync status --json`` takes against a running daemon, judged against
``python -c "import p2psync.control"`` (the interpreter and the control client's
package) measured in the same rounds (issue 16: at most 1.5 times).

Each is a fresh process, as a person or a script runs it; all alternate, round after
round, so that all see the same load. Each reads its modules' bytecode, as an installed
copy does: written by an untimed first round to a cache in the run's temporary
directory (``PYTHONPYCACHEPREFIX``), whatever ``PYTHONDONTWRITEBYTECODE`` says, lest a
checkout without ``__pycache__`` time the compiling of p2psync's modules on every run.
The CLI imports a command's module only when that command runs (cli/parser.py), so
``status`` loads the control client, not the daemon, and reads ``status --json`` without
argparse (``cli.main.shortcut``). For context, against ``python -c pass`` (the bare
interpreter): the same command against no daemon (an empty home: connect, fail, say
so), the same command with its option abbreviated (``--js``), which the shortcut leaves
to argparse, and importing the daemon (``import p2psync.daemon.daemon``, what every
command loaded before).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from bench.harness import REPO_DIR, BenchContext, Metric, timed
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import DaemonNotRunningError

GROUP = "CLI start (issue 16)"
ROUNDS = 30
BOUND = 1.5
"""Issue 16: ``status --json`` in at most this many times the anchor's time."""
START_DEADLINE_S = 30.0
CLI = "import sys; from p2psync.cli.main import main; sys.exit(main())"
"""What the ``p2psync`` console script runs."""
CALL = (
    "import json, sys; from pathlib import Path; "
    "from p2psync.control.client import ControlClient; from p2psync.control.home import Home; "
    "print(json.dumps(ControlClient(Home(Path(sys.argv[1])).socket_path).call('status')))"
)
"""The least a program can do for the same output: the control client's call, no CLI."""


def run(ctx: BenchContext) -> None:
    rounds = 5 if ctx.quick else ROUNDS
    paths = [str(REPO_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    commands = {
        "bare": [sys.executable, "-c", "pass"],
        "anchor": [sys.executable, "-c", "import p2psync.control"],
        "client": [sys.executable, "-c", "import p2psync.control.client"],
        "daemon": [sys.executable, "-c", "import p2psync.daemon.daemon"],
    }
    with tempfile.TemporaryDirectory(prefix="p2psync-bench-cli-") as tmp:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "bytecode")
        home = Path(tmp) / "home"
        commands["status"] = [sys.executable, "-c", CLI, "--home", str(home), "status", "--json"]
        empty = Path(tmp) / "empty"
        empty.mkdir()
        commands["call"] = [sys.executable, "-c", CALL, str(home)]
        commands["parsed"] = [sys.executable, "-c", CLI, "--home", str(home), "status", "--js"]
        commands["no-daemon"] = [
            sys.executable, "-c", CLI, "--home", str(empty), "status", "--json",
        ]  # fmt: skip
        daemon = subprocess.Popen(
            [sys.executable, "-m", "p2psync", "--home", str(home), "run",
             "--listen", "127.0.0.1:0", "--no-mdns", "--log-level", "warning"],
            cwd=REPO_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_for_daemon(Home(home))
            for name, command in commands.items():  # writes the bytecode, untimed
                _run(command, env, name == "no-daemon")
            times: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(rounds):
                for name, command in commands.items():
                    fails = name == "no-daemon"
                    times[name].append(timed(partial(_run, command, env, fails)))
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    median = {name: statistics.median(each) for name, each in times.items()}
    best = {name: min(each) * 1000 for name, each in times.items()}

    def against_bare(key: str) -> str:
        ratio = median[key] / median["bare"]
        return f"{median[key] * 1000:.0f} ms, {ratio:.2f}x"

    ctx.report(Metric(
        GROUP, "`p2psync status --json`, daemon running, median", median["status"], "s",
        '`python -c "import p2psync.control"`, median', median["anchor"], target_ratio=BOUND,
        note=f"fresh processes, their bytecode cached (as installed), {rounds} rounds "
             "alternating eight commands after an untimed one; best of each: "
             f"{best['status']:.0f} ms and {best['anchor']:.0f} ms. Against the bare "
             f"interpreter, `python -c pass` ({median['bare'] * 1000:.0f} ms): status, "
             f"daemon running {against_bare('status')}; the same read by argparse "
             f"(`status --js`, which `cli.main.shortcut` leaves to it) "
             f"{against_bare('parsed')}; status, no daemon (an empty home) "
             f"{against_bare('no-daemon')}; `import p2psync.control` "
             f"{against_bare('anchor')}; `import p2psync.daemon.daemon` "
             f"{against_bare('daemon')} (what every command imported before the CLI "
             "imported a command's module only when it runs)",
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, "`p2psync status --json`, daemon running, median (against the client)",
        median["status"], "s",
        '`python -c "import p2psync.control.client"`, median', median["client"],
        target_ratio=BOUND,
        note="the same rounds, against importing the control client itself (the package "
             "`p2psync.control` imports none of its modules, so the anchor above is the "
             "interpreter and an empty package); the least a program can do for the same "
             "output, the client's `status` call printed as JSON with no CLI, took "
             f"{median['call'] * 1000:.0f} ms: {_least(median['call'], median['anchor'])}; "
             "the command line (`cli.main` read `status --json` without argparse, the "
             "command's modules, its indented JSON) added "
             f"{(median['status'] - median['call']) * 1000:.1f} ms to it, argparse (the "
             "gettext and locale it loads, its parser) another "
             f"{(median['parsed'] - median['status']) * 1000:.1f} ms",
    ))  # fmt: skip


def _least(call: float, anchor: float) -> str:
    """How the least program stands against the bound: what it leaves the command line."""
    ratio = call / anchor
    if ratio > BOUND:
        return f"{ratio:.2f}x the anchor above, beyond its bound before any command-line parsing"
    left = (BOUND * anchor - call) * 1000
    return f"{ratio:.2f}x the anchor above, leaving {left:.1f} ms of its bound to the command line"


def _run(command: list[str], env: dict[str, str], fails: bool) -> None:
    """Run ``command``; it must succeed, or fail (status against no daemon) if ``fails``."""
    quiet = subprocess.DEVNULL
    done = subprocess.run(command, check=False, cwd=REPO_DIR, env=env, stdout=quiet, stderr=quiet)
    if (done.returncode != 0) != fails:
        raise RuntimeError(f"{command[2:]} exited {done.returncode}")


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
