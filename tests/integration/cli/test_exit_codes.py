"""Each case of docs/reference/exit-codes.md, run through the CLI with no daemon and
with a running daemon: the same exit code and one sentence either way; and the
daemon's error reply carries the table's code (control/errorcodes.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from p2psync.control.client import ControlClient
from p2psync.control.errorcodes import (
    EXIT_BROKEN_PIPE,
    EXIT_CHECK_FAILED,
    EXIT_ERROR,
    EXIT_NO_DAEMON,
    EXIT_STORAGE,
    EXIT_USAGE,
)
from p2psync.control.home import Home
from p2psync.errors import ControlError
from p2psync.ids import DeviceId, ShareId
from p2psync.invitecode import InviteCode
from tests.support.daemons import Device, cli

UNKNOWN_SHARE = str(ShareId.new())
STRANGER = str(DeviceId.from_certificate_der(b"a device that never runs"))
# A well-formed invite code whose inviter listens nowhere (port 1 refuses at once).
DEAD_INVITE = str(
    InviteCode.new(ShareId.new(), DeviceId.from_certificate_der(b"y"), ("127.0.0.1:1",),
                   4_000_000_000)
)  # fmt: skip


TOO_LONG = "n" * 300
"""A file name longer than any file system takes (255 bytes)."""


def mistyped(device_id: str) -> str:
    """``device_id`` with one character changed: its check character no longer fits."""
    last = device_id[-1]
    return device_id[:-1] + ("B" if last == "A" else "A")


@dataclass(frozen=True)
class Env:
    """One device holding one share, whose folder holds ``a.txt`` with a doc."""

    device: Device
    share: str
    root: Path


@dataclass(frozen=True)
class Case:
    name: str
    args: Callable[[Env], tuple[str, ...]]
    exit: int
    sentence: str
    modes: tuple[str, ...] = ("no-daemon", "daemon")


CASES = [
    # 2: usage errors, the same whether the CLI or the daemon refuses
    Case("peer-add-mistyped-id", lambda e: ("peer", "add", mistyped(e.device.id), "127.0.0.1:9"),
         EXIT_USAGE, "is not a device ID"),
    Case("peer-add-short-id", lambda e: ("peer", "add", "ABCDEFG-HIJKLMN", "127.0.0.1:9"),
         EXIT_USAGE, "is not a device ID"),
    Case("peer-add-bad-address", lambda e: ("peer", "add", STRANGER, "300.1.1.1:22070"),
         EXIT_USAGE, "is not an IPv4 address"),
    Case("member-add-mistyped-id",
         lambda e: ("share", "member", "add", e.share, mistyped(e.device.id)),
         EXIT_USAGE, "is not a device ID"),
    Case("share-add-a-file", lambda e: ("share", "add", "/etc/passwd"),
         EXIT_USAGE, "is not a directory"),
    Case("share-add-already-shared", lambda e: ("share", "add", str(e.device.folder)),
         EXIT_USAGE, "is already shared"),
    Case("name-empty", lambda e: ("name", ""), EXIT_USAGE, "cannot be empty"),
    Case("doc-apply-not-an-update",
         lambda e: ("doc", "apply", str(e.device.folder / "a.txt"), str(e.root / "garbage.bin")),
         EXIT_USAGE, "not a Yjs v1 update"),
    Case("doc-export-no-doc", lambda e: ("doc", "export", str(e.device.folder / "none.txt")),
         EXIT_USAGE, "none.txt"),
    Case("compact-unknown-share", lambda e: ("compact", UNKNOWN_SHARE),
         EXIT_USAGE, f"no share {UNKNOWN_SHARE}"),
    Case("invite-unknown-share", lambda e: ("invite", UNKNOWN_SHARE),
         EXIT_USAGE, f"no share {UNKNOWN_SHARE}"),
    Case("pause-unknown-share", lambda e: ("pause", UNKNOWN_SHARE),
         EXIT_USAGE, f"no share {UNKNOWN_SHARE}", ("daemon",)),
    Case("wait-idle-unknown-share", lambda e: ("wait-idle", "--share", UNKNOWN_SHARE),
         EXIT_USAGE, f"no share {UNKNOWN_SHARE}", ("daemon",)),
    Case("join-mistyped-code", lambda e: ("join", DEAD_INVITE[:-1] + "x", str(e.root / "j")),
         EXIT_USAGE, "invite code"),
    Case("argparse", lambda e: ("peer", "add", STRANGER), EXIT_USAGE, "see 'p2psync peer add"),
    Case("share-add-name-too-long", lambda e: ("share", "add", str(e.root / TOO_LONG), "--create"),
         EXIT_USAGE, "File name too long"),
    Case("doc-export-name-too-long",
         lambda e: ("doc", "export", str(e.device.folder / TOO_LONG)),
         EXIT_USAGE, "File name too long"),
    # 3: no daemon, for a command that needs one
    Case("status-no-daemon", lambda e: ("status",), EXIT_NO_DAEMON, "no daemon is running",
         ("no-daemon",)),
    Case("join-no-daemon", lambda e: ("join", DEAD_INVITE, str(e.root / "j")),
         EXIT_NO_DAEMON, "no daemon is running", ("no-daemon",)),
    # 4: a file named on the command line cannot be read or written
    Case("doc-apply-missing-update",
         lambda e: ("doc", "apply", str(e.device.folder / "a.txt"), str(e.root / "missing.bin")),
         EXIT_STORAGE, "missing.bin: cannot read it"),
    Case("doc-export-unwritable-output",
         lambda e: ("doc", "export", str(e.device.folder / "a.txt"), "-o",
                    str(e.root / "no-such-dir" / "out.bin")),
         EXIT_STORAGE, "out.bin: cannot write it"),
    # 1: the command's own check failed
    Case("wait-idle-timeout", lambda e: ("wait-idle", "--min-peers", "1", "--timeout", "0.2",
                                         "--quiet"),
         EXIT_CHECK_FAILED, "not in sync after 0.2 s", ("daemon",)),
    # 5: the daemon refused, another daemon runs
    Case("join-inviter-unreachable", lambda e: ("join", DEAD_INVITE, str(e.root / "j")),
         EXIT_ERROR, "", ("daemon",)),
    Case("run-twice", lambda e: ("run", "--listen", "127.0.0.1:0", "--no-mdns"),
         EXIT_ERROR, "already running", ("daemon",)),
]  # fmt: skip


def _env(root: Path) -> Env:
    device = Device(root, "alice")
    share = cli(device.home, "share", "add", str(device.folder), "--create").stdout.strip()
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, "hello\n")
    (root / "update.bin").write_bytes(doc.get_update())
    (root / "garbage.bin").write_bytes(b"\x41" + bytes(range(60)))
    cli(device.home, "doc", "apply", str(device.folder / "a.txt"), str(root / "update.bin"))
    return Env(device, share, root)


@pytest.fixture(scope="module")
def no_daemon(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return _env(tmp_path_factory.mktemp("no-daemon"))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    env = _env(tmp_path_factory.mktemp("daemon"))
    env.device.start()
    try:
        yield env
    finally:
        env.device.stop()


def _runs(case: Case) -> list[object]:
    return [pytest.param(case, mode, id=f"{case.name}-{mode}") for mode in case.modes]


@pytest.mark.parametrize(("case", "mode"), [p for case in CASES for p in _runs(case)])
def test_exit_code(case: Case, mode: str, request: pytest.FixtureRequest) -> None:
    env: Env = request.getfixturevalue(mode.replace("-", "_"))
    result = cli(env.device.home, *case.args(env), check=False)
    assert result.returncode == case.exit, result.stderr
    assert case.sentence in result.stderr
    if case.exit != EXIT_CHECK_FAILED:
        assert result.stderr.startswith("p2psync: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_the_daemon_is_still_the_one_that_ran(daemon: Env) -> None:
    """``run-twice`` refused the second daemon; the first goes on serving."""
    assert daemon.device.status()["shares"]


# Commands that print to standard output, with their modes.
PRINTING = [
    (("id",), ("no-daemon", "daemon")),
    (("share", "list"), ("no-daemon", "daemon")),
    (("status",), ("daemon",)),
    (("status", "--json"), ("daemon",)),
    (("peers", "--json"), ("daemon",)),
    (("conflicts",), ("daemon",)),
]


@pytest.mark.parametrize(
    ("args", "mode"),
    [pytest.param(a, m, id=f"{'-'.join(a)}-{m}") for a, modes in PRINTING for m in modes],
)
def test_a_reader_that_went_away_gives_141_and_nothing_printed(
    args: tuple[str, ...], mode: str, request: pytest.FixtureRequest
) -> None:
    """``p2psync peers | head``: the reader of the output is gone before the command
    writes (its end of the pipe is closed before the command starts, so this does not
    depend on who is faster)."""
    env: Env = request.getfixturevalue(mode.replace("-", "_"))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "p2psync", "--home", str(env.device.home), *args],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == EXIT_BROKEN_PIPE == 141, result.stderr
    assert result.stderr == ""


# The daemon's reply codes for the refusals above (and the class the client raises).
REPLIES = [
    ("peer.add", lambda e: {"device": mistyped(e.device.id), "address": "127.0.0.1:9"}, "bad-id"),
    ("peer.add", lambda e: {"device": STRANGER, "address": "300.1.1.1:1"}, "bad-config"),
    ("share.member.add", lambda e: {"share": e.share, "device": "x", "mode": "send-receive"},
     "bad-id"),
    ("share.add", lambda e: {"path": "/etc/passwd"}, "usage"),
    ("share.add", lambda e: {"path": str(e.device.folder)}, "usage"),
    ("name", lambda e: {"name": ""}, "bad-config"),
    ("doc.apply", lambda e: {"share": e.share, "doc": "a.txt", "update": "QUFB"}, "bad-update"),
    ("doc.apply", lambda e: {"share": e.share, "doc": "a.txt", "update": 3}, "bad-request"),
    ("doc.export", lambda e: {"share": e.share, "doc": "none.txt"}, "not-found"),
    ("pause", lambda e: {"share": UNKNOWN_SHARE}, "not-found"),
    ("share.remove", lambda e: {"share": UNKNOWN_SHARE}, "not-found"),
    ("compact", lambda e: {"share": UNKNOWN_SHARE}, "not-found"),
    ("invite", lambda e: {"share": UNKNOWN_SHARE}, "not-found"),
    ("join", lambda e: {"code": "nonsense!", "path": str(e.root / "j")}, "bad-invite-code"),
    ("join", lambda e: {"code": DEAD_INVITE, "path": str(e.root / "j")}, "invite-refused"),
    ("no.such.method", lambda e: {}, "unknown-method"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "params", "code"), REPLIES, ids=[f"{m}-{c}" for m, _, c in REPLIES]
)
def test_error_reply_codes(
    daemon: Env, method: str, params: Callable[[Env], dict[str, object]], code: str
) -> None:
    socket_path = Home.resolve(daemon.device.home).socket_path
    with ControlClient(socket_path) as client, pytest.raises(ControlError) as refused:
        client.call(method, **params(daemon))
    assert refused.value.code == code, str(refused.value)


@pytest.mark.parametrize("below", [False, True], ids=["the-home", "its-parent"])
@pytest.mark.parametrize("args", [("id",), ("status",), ("share", "list")], ids=" ".join)
def test_a_home_that_is_a_file_is_a_usage_error_naming_it(
    tmp_path: Path, below: bool, args: tuple[str, ...]
) -> None:
    """``--home FILE`` (or a home below a file): one sentence naming the file, exit 2,
    and the file is left as it was."""
    file = tmp_path / "not-a-dir"
    file.write_text("mine\n")
    home = file / "home" if below else file
    result = cli(home, *args, check=False)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert result.stderr.startswith("p2psync: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{file} is a file, not a directory" in result.stderr
    assert str(home) in result.stderr
    assert file.read_text() == "mine\n"
