"""``p2psync service``: the user unit it writes, systemd's verdict on it, and the
systemctl calls it makes (against a recording systemctl, since no user manager runs
in the test environment)."""

from __future__ import annotations

import json
import stat
import struct
import sys
from pathlib import Path

import pytest

from p2psync.cli import service
from p2psync.cli.main import main
from p2psync.cli.service import Places, Systemctl
from p2psync.control.home import Home, daemon_command
from tests.packaging.units import SYSTEMD_ANALYZE, verify_unit


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Places:
    """XDG dirs under tmp_path, and no systemd whatever the machine runs."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(service, "SYSTEMD_RUNNING_MARKER", tmp_path / "no-systemd")
    return Places.from_environment()


def recording_systemctl(tmp_path: Path, *, fail_with: str = "") -> tuple[Systemctl, Path]:
    """A systemctl that appends its arguments to a file (and fails if told to)."""
    calls = tmp_path / "calls.txt"
    script = tmp_path / "systemctl"
    failure = f"echo '{fail_with}' >&2; exit 1" if fail_with else "exit 0"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n{failure}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return Systemctl(str(script)), calls


def unit_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_install_writes_the_unit_for_this_installation(
    places: Places, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "device"
    assert main(["--home", str(home), "service", "install"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {places.unit}" in out
    assert "systemd is not running on this machine" in out
    assert places.unit == tmp_path / "config" / "systemd" / "user" / "p2psync.service"
    text = places.unit.read_text()
    assert unit_values(text, "ExecStart") == [
        f"{sys.executable} -m p2psync --home {home.resolve()} run"
    ]
    assert unit_values(text, "Restart") == ["on-failure"]
    assert unit_values(text, "NoNewPrivileges") == ["yes"]
    assert unit_values(text, "WantedBy") == ["default.target"]
    assert "@" not in "".join(unit_values(text, "ExecStart"))


def test_without_home_the_unit_uses_the_default_home(places: Places) -> None:
    argv = daemon_command(Home.resolve(None))
    assert argv == [sys.executable, "-m", "p2psync", "run"]
    assert unit_values(service.render_unit(argv), "ExecStart") == [" ".join(argv)]


def test_status_says_installed_current_or_stale(
    places: Places, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["installed"] is False
    assert main(["service", "install"]) == 0
    capsys.readouterr()
    assert main(["service", "status", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["installed"] is True
    assert result["up_to_date"] is True
    assert result["systemd"] is False
    assert result["unit"] == str(places.unit)
    # installed for another home: no longer what `install` would write now
    assert main(["--home", str(tmp_path / "elsewhere"), "service", "status"]) == 0
    assert "out of date" in capsys.readouterr().out


def test_uninstall_removes_the_unit_and_is_idempotent(
    places: Places, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install"]) == 0
    assert places.unit.exists()
    assert main(["service", "uninstall"]) == 0
    assert not places.unit.exists()
    assert f"removed {places.unit}" in capsys.readouterr().out
    assert main(["service", "uninstall"]) == 0
    assert "not installed" in capsys.readouterr().out


def test_systemctl_reloads_enables_and_disables(places: Places, tmp_path: Path) -> None:
    systemctl, calls = recording_systemctl(tmp_path)
    done = service.install(places, ["/usr/bin/p2psync", "run"], systemctl)
    assert calls.read_text().splitlines() == [
        "--user daemon-reload",
        "--user try-restart p2psync.service",
        "--user enable --now p2psync.service",
    ]
    assert any("enabled and started" in line for line in done)
    calls.unlink()
    service.install(places, ["/usr/bin/p2psync", "run"], systemctl)  # the same unit again
    assert calls.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable --now p2psync.service",
    ]
    calls.unlink()
    service.uninstall(places, systemctl)
    assert calls.read_text().splitlines() == [
        "--user disable --now p2psync.service",
        "--user daemon-reload",
    ]
    assert not places.unit.exists()


def test_a_failing_systemctl_is_one_sentence_and_exit_5(
    places: Places,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    systemctl, _ = recording_systemctl(tmp_path, fail_with="Failed to connect to bus: No medium")
    monkeypatch.setattr(Systemctl, "find", classmethod(lambda cls: systemctl))
    assert main(["service", "install"]) == 5
    err = capsys.readouterr().err
    assert err == (
        "p2psync: 'systemctl --user daemon-reload' failed: Failed to connect to bus: No medium\n"
    )
    assert places.unit.exists()  # written first, so a later `systemctl` by hand can use it


def test_tray_without_a_tray_command_changes_nothing(
    places: Places, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(service, "tray_command", lambda: None)
    assert main(["service", "install", "--tray"]) == 5
    assert capsys.readouterr().err == (
        "p2psync: this installation has no p2psync-tray command to install\n"
    )
    assert not places.unit.exists()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_tray_install_writes_entries_and_icons(places: Places, tmp_path: Path) -> None:
    tray = Path("/opt/p2p sync/bin/p2psync-tray")
    service.install_tray(places, tray)
    application = places.application.read_text()
    autostart = places.autostart.read_text()
    assert unit_values(application, "Exec") == ['"/opt/p2p sync/bin/p2psync-tray"']
    assert unit_values(application, "Icon") == ["p2psync"]
    assert unit_values(autostart, "X-GNOME-Autostart-enabled") == ["true"]
    assert places.autostart == tmp_path / "config" / "autostart" / "p2psync-tray.desktop"
    for path, _ in places.icons().items():
        if path.suffix == ".png":
            size = int(path.parent.parent.name.split("x")[0])
            assert png_size(path) == (size, size)
        else:
            assert "<svg" in path.read_text()
    service.uninstall(places, None)
    assert not any(p.exists() for p in places.tray_files())


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("/usr/bin/p2psync", "/usr/bin/p2psync"),
        ("/home/a b/x", '"/home/a b/x"'),
        ("/tmp/100%", '"/tmp/100%%"'),
        ('/tmp/say "hi"\\', '"/tmp/say \\"hi\\"\\\\"'),
        ("/tmp/$HOME", '"/tmp/$$HOME"'),
        ("/tmp/two\nlines", '"/tmp/two\\nlines"'),
    ],
)
def test_exec_words_are_quoted_for_systemd(arg: str, quoted: str) -> None:
    assert service.systemd_quote(arg) == quoted


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_rendered_unit(tmp_path: Path) -> None:
    home = tmp_path / "a home with spaces and 100%"
    argv = daemon_command(Home.resolve(home))
    unit = tmp_path / "p2psync.service"
    unit.write_text(service.render_unit(argv))
    assert verify_unit(unit, tmp_path / "run") == []


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_verification_catches_a_bad_unit(tmp_path: Path) -> None:
    unit = tmp_path / "p2psync.service"
    text = service.render_unit(["/usr/bin/true"]).replace("Restart=on-failure", "Restart=often")
    unit.write_text(text)
    assert any("Restart" in line or "restart" in line for line in verify_unit(unit, tmp_path))
    unit.write_text(service.render_unit(["/nonexistent/p2psync", "run"]))
    assert verify_unit(unit, tmp_path) != []


def test_no_enable_writes_the_unit_without_calling_systemctl(
    places: Places,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    systemctl, calls = recording_systemctl(tmp_path)
    monkeypatch.setattr(Systemctl, "find", classmethod(lambda cls: systemctl))
    assert main(["service", "install", "--no-enable"]) == 0
    assert places.unit.exists()
    assert not calls.exists()
    assert "not enabled: 'systemctl --user enable --now p2psync.service'" in capsys.readouterr().out
    assert main(["service", "install"]) == 0
    assert calls.read_text().splitlines()[-1] == "--user enable --now p2psync.service"


def test_sandbox_is_an_opt_in_drop_in(places: Places, tmp_path: Path) -> None:
    systemctl, calls = recording_systemctl(tmp_path)
    argv = ["/usr/bin/p2psync", "run"]
    service.install(places, argv, systemctl, sandbox=True)
    assert places.sandbox == places.unit.parent / "p2psync.service.d" / "sandbox.conf"
    drop_in = places.sandbox.read_text()
    assert unit_values(drop_in, "ProtectSystem") == ["strict"]
    assert unit_values(drop_in, "ReadWritePaths") == ["%h %t /tmp"]
    assert service.status(places, argv, None)["sandbox"] is True
    calls.unlink()
    service.install(places, argv, systemctl)  # without --sandbox: taken out again
    assert not places.sandbox.parent.exists()
    assert "--user try-restart p2psync.service" in calls.read_text().splitlines()
    service.install(places, argv, None, sandbox=True)
    service.uninstall(places, None)
    assert not places.sandbox.parent.exists()
    assert not places.unit.exists()


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit_with_its_sandbox(places: Places, tmp_path: Path) -> None:
    argv = daemon_command(Home.resolve(tmp_path / "device"))
    service.install(places, argv, None, sandbox=True)
    # verify reads drop-ins only from its own search path: check the two as one unit
    combined = tmp_path / "p2psync.service"
    combined.write_text(places.unit.read_text() + places.sandbox.read_text())
    assert verify_unit(combined, tmp_path / "run") == []
