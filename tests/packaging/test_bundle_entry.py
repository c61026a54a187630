"""The bundle's one executable dispatches like the programs it stands for: ``-m
MODULE`` as the interpreter would (the product spawns ``sys.executable -m ...``), the
tray when called by the tray's name, the CLI otherwise. The built bundle itself is
smoke-tested by ``packaging/bundle.sh`` (CI)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from p2psync import __version__

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def entry() -> ModuleType:
    spec = importlib.util.spec_from_file_location("entry", ROOT / "packaging/bundle/entry.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dash_m_runs_the_module_with_the_rest_of_the_arguments(
    entry: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["/opt/p2psync/p2psync", "-m", "p2psync", "--version"])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"p2psync {__version__}\n"


def test_called_by_its_own_name_it_is_the_cli(
    entry: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["/opt/p2psync/p2psync", "service", "status", "--json"])
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent/config")
    assert entry.main() == 0
    assert '"installed": false' in capsys.readouterr().out
