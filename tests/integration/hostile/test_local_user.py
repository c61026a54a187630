"""The control socket is usable only by the user who runs the daemon (docs/security.md).

Switching to another user needs root (CI runs as root): a forked child drops to
``nobody`` and tries to connect.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from p2psync.control.home import Home
from p2psync.daemon.control import ControlServer
from p2psync.daemon.events import EventBus
from p2psync.errors import ControlError
from tests.support.daemons import Device

NOBODY = 65534

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture
def alice(tmp_path: Path) -> Iterator[Device]:
    device = Device(tmp_path, "alice")
    device.start()
    yield device
    device.stop(signal.SIGKILL)


def connect_as(uid: int, path: Path) -> int:
    """Try to connect to the Unix socket at ``path`` as ``uid`` in a forked child;
    return 0 if it connected, else the errno it got."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(os.fspath(path))
        except OSError as exc:
            code = exc.errno or 255
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_the_socket_is_mode_0600(alice: Device) -> None:
    path = Home.resolve(alice.home).socket_path
    mode = path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert path.stat().st_uid == os.getuid()


@needs_root
def test_another_user_cannot_connect(alice: Device, tmp_path: Path) -> None:
    path = Home.resolve(alice.home).socket_path
    assert connect_as(NOBODY, path) == errno.EACCES
    # The socket's own mode, not only its directory, keeps others out: a second name
    # for it in a directory everyone may enter is still refused.
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o711)
    os.link(path, open_dir / "control.sock")
    modes = {parent: parent.stat().st_mode for parent in (tmp_path, *tmp_path.parents)}
    try:
        for parent, mode in modes.items():
            parent.chmod(mode | 0o001)  # others may pass through, as to a home directory
        assert connect_as(NOBODY, open_dir / "control.sock") == errno.EACCES
        assert connect_as(os.getuid(), open_dir / "control.sock") == 0  # the owner can
    finally:
        for parent, mode in modes.items():
            parent.chmod(stat.S_IMODE(mode))


@pytest.mark.parametrize("mode", [0o777, 0o703])
def test_a_socket_directory_others_may_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    directory = tmp_path / "shared-tmp"
    directory.mkdir()
    directory.chmod(mode)
    server = ControlServer(directory / "c.sock", {}, EventBus())

    async def start() -> None:
        with trio.fail_after(10):
            await server.run()

    with pytest.raises(ControlError, match="writable by everyone") as refused:
        trio.run(start)
    assert refused.value.code == "unsafe-socket-dir"
    assert not (directory / "c.sock").exists()
