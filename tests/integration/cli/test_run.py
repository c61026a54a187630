"""``p2psync run`` that cannot run (another daemon on the home, an address in use)
fails at once with one sentence and touches nothing; ``--listen`` and ``--no-mdns``
are never written to ``config.toml``."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psync.config import DEFAULT_LISTEN, DEFAULT_PORT, load_config
from p2psync.control.home import Home
from p2psync.storage.layout import marker_dir
from tests.integration.sync.daemons import Device, cli, make_share, wait_for

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
