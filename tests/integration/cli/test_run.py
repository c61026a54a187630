"""``p2psync run`` that cannot run (another daemon on the home, an address in use)
fails at once with one sentence and touches nothing, except that the built-in default
port, when taken, falls back to a free one; ``--listen`` and ``--no-mdns`` are never
written to ``config.toml``."""

from __future__ import annotations

import errno
import os
import resource
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from p2psync.config import DEFAULT_LISTEN, DEFAULT_PORT, load_config
from p2psync.control.home import Home
from p2psync.storage.layout import marker_dir
from tests.support.daemons import Device, cli, make_share, wait_for
from tests.support.unwritable import unwritable

RUN_TIMEOUT_S = 20.0
"""A ``run`` that should fail at once but serves instead is killed after this long."""


def run_once(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``p2psync run ARGS`` that is expected to exit by itself."""
    return subprocess.run(
        [sys.executable, "-m", "p2psync", "--home", str(home), "run", *args],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip


def state_of(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` with its bytes and modification time."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def assert_one_sentence(result: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("p2psync: ")
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Device]:
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    device.start()
    try:
        yield device
    finally:
        device.stop()


def test_a_second_run_on_the_same_home_changes_nothing(running: Device) -> None:
    # The first daemon writes its index once after starting, then nothing while idle.
    wait_for((marker_dir(running.folder) / "index.bin").exists, "the index")
    shares_before = state_of(marker_dir(running.folder))
    config_before = Home.resolve(running.home).config_path.read_bytes()
    assert any(name.endswith("index.running") for name in shares_before)

    second = run_once(running.home, "--listen", "127.0.0.1:0", "--no-mdns")

    assert state_of(marker_dir(running.folder)) == shares_before
    assert Home.resolve(running.home).config_path.read_bytes() == config_before
    assert_one_sentence(second, 5, "another daemon is already running")
    assert running.status()["listen"] == running.address  # the first one still serves


def test_run_in_a_home_it_cannot_write_says_so(tmp_path: Path) -> None:
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    device.start()  # the home then holds all a daemon makes in it but the socket
    device.stop()
    socket_path = Home.resolve(device.home).socket_path
    assert socket_path.parent == device.home  # not a long home's directory under /tmp
    shares_before = state_of(marker_dir(device.folder))
    with unwritable(device.home):
        result = run_once(device.home, "--listen", "127.0.0.1:0", "--no-mdns")
    assert_one_sentence(result, 4, f"{socket_path}: cannot create the control socket")
    assert state_of(marker_dir(device.folder)) == shares_before  # no share was started


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something listens on for the whole test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_run_refuses_a_listen_address_in_use(tmp_path: Path, taken_port: int) -> None:
    home = tmp_path / "a"
    cli(home, "id")
    result = run_once(home, "--listen", f"127.0.0.1:{taken_port}", "--no-mdns")
    assert_one_sentence(result, 2, f"cannot listen on 127.0.0.1:{taken_port}")


def test_run_refuses_the_default_port_when_it_was_typed(tmp_path: Path) -> None:
    home = tmp_path / "a"
    cli(home, "id")
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", DEFAULT_PORT))
            holder.listen()
        except OSError as exc:  # held by another program already: taken all the same
            assert exc.errno == errno.EADDRINUSE
        result = run_once(home, "--listen", f"127.0.0.1:{DEFAULT_PORT}", "--no-mdns")
    assert_one_sentence(result, 2, f"cannot listen on 127.0.0.1:{DEFAULT_PORT}")


@pytest.fixture
def default_port_taken() -> Iterator[None]:
    """Something listens on 127.0.0.1 at the built-in default port for the whole test
    (or another program holds it already: taken all the same)."""
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", DEFAULT_PORT))
            holder.listen()
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE
        yield


def test_run_falls_back_to_a_free_port_when_the_default_one_is_taken(
    tmp_path: Path, default_port_taken: None
) -> None:
    """No ``--listen``: the configured address is the built-in default port (on
    loopback, so the test stays off the network), taken; the daemon listens on a free
    port instead, says so, and the configuration keeps the default."""
    device = Device(tmp_path, "a")
    config_path = Home.resolve(device.home).config_path
    config: dict[str, Any] = {}
    if config_path.exists():
        config = tomllib.loads(config_path.read_text())
    config["listen"] = {"address": f"127.0.0.1:{DEFAULT_PORT}", "mdns": False}
    config_path.write_text(tomli_w.dumps(config))
    config_before = config_path.read_bytes()
    with (device.home / "daemon.log").open("ab") as log:
        process = device.process = subprocess.Popen(
            [sys.executable, "-m", "p2psync", "--home", str(device.home), "run"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    def served_or_exited() -> bool:
        answered = cli(device.home, "status", "--json", check=False).returncode == 0
        return answered or process.poll() is not None

    try:
        wait_for(served_or_exited, "the daemon to serve")
        assert process.poll() is None, (device.home / "daemon.log").read_text()
        host, port = device.status()["listen"].rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) not in (0, DEFAULT_PORT)
        with socket.create_connection(("127.0.0.1", int(port)), timeout=10):
            pass  # the daemon accepts on the port it reports
        daemon_log = (device.home / "daemon.log").read_text()
        assert f"port {DEFAULT_PORT} is taken; listening on a free port instead" in daemon_log
    finally:
        device.stop()
    assert config_path.read_bytes() == config_before


def test_run_options_are_not_written_to_the_config(tmp_path: Path) -> None:
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    make_share([alice, bob])
    config_path = Home.resolve(alice.home).config_path
    alice.start()  # with --listen 127.0.0.1:0 --no-mdns
    try:
        cli(alice.home, "peer", "add", bob.id, "127.0.0.1:9")  # a change the daemon saves
        saved = load_config(config_path)
        assert [p.addresses for p in saved.peers if str(p.device_id) == bob.id] == [
            ("127.0.0.1:9",)
        ]
    finally:
        alice.stop()
    assert (saved.listen, saved.mdns) == (DEFAULT_LISTEN, True)


def test_a_config_with_a_share_inside_another_is_refused_at_start(tmp_path: Path) -> None:
    """Two shares written by hand into one configuration, one folder inside the
    other: ``run`` starts neither, and says which two in one sentence (exit 2, a bad
    configuration); no ``.p2psync`` is made in the inner folder."""
    device = Device(tmp_path, "a")
    outer = cli(device.home, "share", "add", str(device.folder), "--create").stdout.strip()
    cli(device.home, "id")  # the identity, made before: its log line is not the point
    config_path = Home.resolve(device.home).config_path
    config: dict[str, Any] = tomllib.loads(config_path.read_text())
    inner_id = "jv52n-usewr-3thjv-cr2lw-3xnoem"
    (device.folder / "inner").mkdir()
    config["shares"].append({"id": inner_id, "path": str(device.folder / "inner"), "members": []})
    config_path.write_text(tomli_w.dumps(config))

    result = run_once(device.home, "--listen", "127.0.0.1:0", "--no-mdns")

    assert_one_sentence(result, 2, f"share {inner_id} is inside the folder")
    assert f"of share {outer}" in result.stderr
    assert not (device.folder / "inner" / ".p2psync").exists()
    listed = cli(device.home, "share", "list", check=False)  # and any command reading it
    assert (listed.returncode, listed.stderr) == (2, result.stderr)


def test_a_config_that_is_not_toml_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    """A new home whose configuration is broken: ``run`` says so in one sentence
    (exit 2) and leaves the home as it found it, with no device identity made."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[listen\nport = 1\n")
    before = state_of(home)

    result = run_once(home, "--listen", "127.0.0.1:0", "--no-mdns")

    assert_one_sentence(result, 2, "not valid TOML")
    assert state_of(home) == before


def test_the_daemon_may_open_as_many_files_as_the_system_lets_it(tmp_path: Path) -> None:
    """Started under a soft limit of 256 open files (the hard one higher), the daemon
    raises its own to the hard limit: each loaded doc holds its log open, and a first
    sync of many files loads thousands at once. (An unlimited hard limit is left.)"""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    device = Device(tmp_path, "a")
    with (tmp_path / "run.log").open("ab") as log:
        process = device.process = subprocess.Popen(
            ["sh", "-c", 'ulimit -Sn 256 && exec "$0" "$@"', sys.executable, "-m", "p2psync",
             "--home", str(device.home), "run", "--listen", "127.0.0.1:0", "--no-mdns"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: cli(device.home, "status", check=False).returncode == 0, "the daemon")
        limits = Path(f"/proc/{process.pid}/limits").read_text().splitlines()
        soft = next(line for line in limits if line.startswith("Max open files")).split()[3]
        assert soft == ("256" if hard == resource.RLIM_INFINITY else str(hard))
    finally:
        device.stop()
