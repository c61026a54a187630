"""Daemons forked from a Python that has already imported the daemon.

A daemon started as ``python -m p2psync run`` spends a second or more of CPU importing
Trio, pycrdt, cryptography, zeroconf and the daemon's modules before it does anything,
and a test starts two or three. ``launch`` asks a server process (one per test
process, started on first use: ``python -m tests.support.forkserver``) that imported
them once to fork a child that runs ``p2psync``'s own ``main`` with the arguments,
environment, working directory and log file a subprocess would have had. The child
is the same code in a process of its own: its own pid, signals, sockets and files; it
is the server's child, so ``Forked`` asks the server for its exit status.

The server has one thread and never runs Trio, so a fork copies nothing running;
Python reseeds ``random`` in a forked child. A daemon inside a network namespace
(``testbed``) starts ``python`` as before.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

POLL_S = 0.01


class Forked(subprocess.Popen[bytes]):
    """A forked daemon: a ``Popen`` whose exit status the server reports (it never
    runs ``Popen.__init__``: the child exists already)."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.args = ["p2psync", str(pid)]
        self.returncode = None
        self.stdin = self.stdout = self.stderr = None
        self._child_created = False  # Popen.__del__: nothing of ours to reap

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(POLL_S)  # a poll interval under the deadline above
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The client end of one server process: requests and replies as JSON lines."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.forkserver"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def request(self, **message: Any) -> Any:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        with self.lock:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise AssertionError("the fork server of the test daemons exited")
        return json.loads(line)

    def spawn(self, argv: Sequence[str], log: Path) -> Forked:
        reply = self.request(
            op="spawn", argv=list(argv), log=str(log), cwd=str(Path.cwd()), env=dict(os.environ)
        )
        return Forked(self, int(reply["pid"]))

    def exit_code(self, pid: int) -> int | None:
        code: int | None = self.request(op="poll", pid=pid)["code"]
        return code


_servers: list[ForkServer] = []
"""This process's server (none until the first ``launch``)."""
_servers_lock = threading.Lock()


def launch(argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """``p2psync ARGV`` in a forked child, its output appended to ``log``."""
    with _servers_lock:
        if not _servers or not _servers[-1].alive():
            _servers[:] = [ForkServer()]
        server = _servers[-1]
    return server.spawn(argv, log)


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the daemon a subprocess would have been; never returns."""
    code = 1
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the child's for its life)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), write_through=True, errors="backslashreplace"
        )
        sys.argv = ["p2psync", *request["argv"]]
        from p2psync.cli.main import main  # noqa: PLC0415 - imported by serve already

        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what the interpreter would print before exiting with 1
        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code)


def serve() -> None:
    """The server: fork a daemon per ``spawn``, answer ``poll`` with its exit code."""
    # Here, not at the top: the tests' own process imports this module, not the daemon.
    import p2psync.cli.main  # noqa: PLC0415
    import p2psync.cli.parser  # noqa: PLC0415 - argparse, for every command but status
    import p2psync.cli.run  # noqa: F401, PLC0415 - the daemon and all it imports

    codes: dict[int, int] = {}
    children: set[int] = set()
    stdin = sys.stdin
    while True:
        ready, _, _ = select.select([stdin], [], [], 0.05)
        _reap(children, codes)
        if not ready:
            continue
        line = stdin.readline()
        if not line:
            return
        request = json.loads(line)
        if request["op"] == "spawn":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            children.add(pid)
            reply: dict[str, Any] = {"pid": pid}
        else:
            _reap(children, codes)
            reply = {"code": codes.get(request["pid"])}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def _reap(children: set[int], codes: dict[int, int]) -> None:
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)
            codes[pid] = os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    serve()
