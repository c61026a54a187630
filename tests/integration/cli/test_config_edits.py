"""``share add``: refused with one sentence and exit 2, and applied, the same whether
the CLI edits the config or a daemon does."""

from __future__ import annotations

from pathlib import Path

from p2psync.config import Config, load_config
from p2psync.daemon.home import Home
from tests.integration.sync.daemons import Device, cli


def config(device: Device) -> Config:
    return load_config(Home.resolve(device.home).config_path)


def refused(device: Device, args: tuple[str, ...], sentence: str) -> None:
    """``args`` exits 2 with one sentence holding ``sentence`` and changes nothing."""
    before = config(device)
    result = cli(device.home, *args, check=False)
    assert result.returncode == 2, (args, result.stderr)
    assert sentence in result.stderr, (args, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert config(device) == before


def check_share_add(device: Device, root: Path) -> None:
    """Every refusal of ``share add``, then ``--create``."""
    home = device.home.resolve()
    (root / "x" / ".p2psync" / "logs").mkdir(parents=True)
    inner = root / "outer" / "inner"
    inner.mkdir(parents=True)
    cli(device.home, "share", "add", str(inner))
    cases = [
        ((str(home),), "holds this device's home"),
        ((str(home.parent),), "holds this device's home"),
        ((str(home / "identity"),), "is inside this device's home"),
        ((str(home / "state" / "x"), "--create"), "is inside this device's home"),
        ((str(root / "x" / ".p2psync" / "logs"),), "is inside a .p2psync folder"),
        ((str(inner / "sub"), "--create"), "is inside the share"),
        ((str(root / "outer"),), "holds the share"),
        ((str(inner),), "is already shared"),
        ((str(root / "typo"),), "does not exist (pass --create"),
    ]
    for args, sentence in cases:
        refused(device, ("share", "add", *args), sentence)
    assert not (root / "typo").exists()
    assert not (inner / "sub").exists()
    cli(device.home, "share", "add", str(root / "typo"), "--create")
    assert (root / "typo").is_dir()


def test_share_add_refusals_without_a_daemon(tmp_path: Path) -> None:
    check_share_add(Device(tmp_path, "alice"), tmp_path)


def test_share_add_refusals_with_a_daemon(tmp_path: Path) -> None:
    alice = Device(tmp_path, "alice")
    alice.start()
    try:
        served = len(alice.status()["shares"])
        check_share_add(alice, tmp_path)
        assert len(alice.status()["shares"]) == served + 2  # it serves the shares it added
    finally:
        alice.stop()
