"""The daemon's command lines (the tray's Start daemon, the systemd user unit) work
whatever the working directory holds, and the tray's words for how a daemon ended."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from p2psync.cli.service import render_unit
from p2psync.control.home import Home, daemon_command
from p2psync_tray.launcher import ended_sentence, last_error_line, launch_command


def clone_folder(tmp_path: Path) -> Path:
    """A folder holding a clone of p2psync: its ``p2psync/`` is not the package."""
    clone = tmp_path / "src"
    (clone / "p2psync").mkdir(parents=True)
    (clone / "p2psync" / "__init__.py").write_text("")
    return clone


def runs_from(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    version = [*argv[:-1], "--version"]  # the same command line, asking only the version
    return subprocess.run(version, cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False, env=os.environ.copy())  # fmt: skip


def test_the_trays_command_does_not_read_the_working_directory(tmp_path: Path) -> None:
    clone = clone_folder(tmp_path)
    argv = launch_command(Home.resolve(tmp_path / "home"))
    assert argv[-1] == "run"
    assert "--home" in argv
    result = runs_from(argv, clone)
    assert result.returncode == 0, result.stderr
    assert "p2psync" in result.stdout


def test_the_user_unit_runs_in_a_fixed_directory(tmp_path: Path) -> None:
    argv = daemon_command(Home.resolve(tmp_path / "home"))
    unit = render_unit(argv)
    directories = [line.split("=", 1)[1] for line in unit.splitlines()
                   if line.startswith("WorkingDirectory=")]  # fmt: skip
    assert directories == ["/"]
    assert unit.index("WorkingDirectory=") < unit.index("ExecStart=")
    assert not (Path(directories[0]) / "p2psync").exists()
    assert runs_from(argv, Path(directories[0])).returncode == 0
    # where a user unit would otherwise run (the home directory) with a clone there:
    assert runs_from(argv, clone_folder(tmp_path)).returncode != 0


def test_the_last_error_line_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    assert last_error_line(log) == ""
    log.write_text("starting\nERROR config: 'device.name' must be a string\nbye\n\n")
    assert last_error_line(log) == "ERROR config: 'device.name' must be a string"
    log.write_text("p2psync: /home/ana/config.toml: 'name' must be a string\n")
    assert last_error_line(log) == "p2psync: /home/ana/config.toml: 'name' must be a string"
    # killed by a signal: nothing in the log reads as the cause, so none is quoted
    log.write_text("p2psync VFVQ4IY-… listening on 127.0.0.1:22000\n")
    assert last_error_line(log) == ""
    assert ended_sentence(-9, log, started=True) == (
        f"The daemon crashed (it was killed by SIGKILL). Its log is {log}."
    )
    assert ended_sentence(2, tmp_path / "none.log", started=False) == (
        f"The daemon did not start (it exited with 2). Its log is {tmp_path / 'none.log'}."
    )
