"""A headless install (``pip install p2psync``, no ``tray`` extra, so no PySide6) runs
the daemon and CLI, and everything that needs Qt says so in one sentence.

Each check runs a real command in a subprocess whose Python cannot import PySide6: a
``sitecustomize`` on its path makes the path finder miss ``PySide6`` and ``shiboken6``
as if they were not installed, and records each lookup. The
same install built from the wheel in a fresh virtual environment, without and then
with the extra, is ``make check-wheel`` (``packaging/check-wheel.sh``, run by CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from p2psync import __version__

ROOT = Path(__file__).resolve().parents[2]
NO_PYSIDE6 = "the tray needs PySide6: pip install 'p2psync[tray]'"

# The sitecustomize: the path finder (which finds everything in site-packages) finds no
# PySide6 or shiboken6, so importing them fails as if they were not installed, and
# ``importlib.util.find_spec`` says None. Each lookup is appended to QT_ATTEMPTS. With
# QT_IMPORT_ERROR set, both are found but each Qt module (``PySide6.QtCore``...) fails
# with an ImportError of that text instead (PySide6 there, a library Qt loads missing).
BLOCK_QT = """
import os
from importlib.machinery import PathFinder

_find_spec = PathFinder.find_spec.__func__


def find_spec(cls, name, path=None, target=None):
    top = name.partition(".")[0]
    if top not in ("PySide6", "shiboken6"):
        return _find_spec(cls, name, path, target)
    with open(os.environ["QT_ATTEMPTS"], "a") as file:
        file.write(name + "\\n")
    broken = os.environ.get("QT_IMPORT_ERROR")
    if not broken:
        return None
    if name.startswith("PySide6.Qt"):
        raise ImportError(broken)
    return _find_spec(cls, name, path, target)


PathFinder.find_spec = classmethod(find_spec)
"""

# Every module of the daemon and CLI, imported the way a headless install would.
IMPORT_ALL = """
import importlib, pkgutil, p2psync
names = [m.name for m in pkgutil.walk_packages(p2psync.__path__, "p2psync.")]
for name in names:
    if not name.endswith("__main__"):  # p2psync.__main__ runs the CLI
        importlib.import_module(name)
print(len(names))
"""


@pytest.fixture
def headless(tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess that cannot import PySide6 (as without the extra),
    with a ``p2psync-tray`` on PATH as pip installs one, extra or not."""
    site = tmp_path / "noqt"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_QT)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tray = bin_dir / "p2psync-tray"
    script = "import sys\nfrom p2psync_tray.__main__ import main\nsys.exit(main())\n"
    tray.write_text(f"#!{sys.executable}\n{script}")  # as pip writes a console script
    tray.chmod(0o755)
    paths = [str(site), str(ROOT), str(ROOT / "gui"), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
        "QT_ATTEMPTS": str(tmp_path / "qt-attempts"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "QT_QPA_PLATFORM": "offscreen",
    }


def python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=env["XDG_CONFIG_HOME"].rpartition("/")[0],  # not the checkout
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def qt_attempts(env: dict[str, str]) -> list[str]:
    path = Path(env["QT_ATTEMPTS"])
    return path.read_text().split() if path.exists() else []


def test_the_headless_environment_has_no_pyside6(headless: dict[str, str]) -> None:
    """The checks below would prove nothing if PySide6 still loaded."""
    result = python(headless, "-c", "import PySide6.QtWidgets")
    assert result.returncode == 1
    assert "ModuleNotFoundError: No module named 'PySide6'" in result.stderr
    assert qt_attempts(headless) == ["PySide6"]


def test_no_daemon_or_cli_module_imports_qt(headless: dict[str, str]) -> None:
    """Every module under p2psync/ imports without PySide6 and never even tries it (an
    import inside ``try`` or by name, which the import contract cannot see, included)."""
    result = python(headless, "-c", IMPORT_ALL)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 100  # the walk found the modules
    assert qt_attempts(headless) == []


def test_cli_runs_without_pyside6(headless: dict[str, str]) -> None:
    version = python(headless, "-m", "p2psync", "--version")
    assert (version.returncode, version.stdout) == (0, f"p2psync {__version__}\n")
    usage = python(headless, "-m", "p2psync", "--help")
    assert usage.returncode == 0
    assert "service" in usage.stdout
    assert qt_attempts(headless) == []


def test_tray_without_pyside6_is_one_sentence_and_exit_5(headless: dict[str, str]) -> None:
    result = subprocess.run(
        ["p2psync-tray", "--home", headless["XDG_DATA_HOME"]],
        env=headless,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 5
    assert result.stderr == f"p2psync-tray: {NO_PYSIDE6}\n"
    assert result.stdout == ""
    assert "PySide6" in qt_attempts(headless)


def test_tray_version_and_usage_need_no_qt(headless: dict[str, str]) -> None:
    version = python(headless, "-m", "p2psync_tray", "--version")
    assert (version.returncode, version.stdout) == (0, f"p2psync-tray {__version__}\n")
    bogus = python(headless, "-m", "p2psync_tray", "--bogus")
    assert bogus.returncode == 2
    assert qt_attempts(headless) == []


def test_tray_with_a_qt_that_cannot_load_is_one_sentence(headless: dict[str, str]) -> None:
    """PySide6 installed, a system library of Qt's missing (libEGL on a bare server)."""
    missing = "libEGL.so.1: cannot open shared object file: No such file or directory"
    result = python({**headless, "QT_IMPORT_ERROR": missing}, "-m", "p2psync_tray")
    assert result.returncode == 5
    assert result.stderr == f"p2psync-tray: the tray cannot load Qt: {missing}\n"


def test_service_install_tray_without_pyside6_refuses_and_writes_nothing(
    headless: dict[str, str],
) -> None:
    """No desktop entry may start a tray that cannot run; the daemon's unit alone is fine.
    (The CLI looks PySide6 up with ``find_spec`` and does not import it.)"""
    result = python(headless, "-m", "p2psync", "service", "install", "--no-enable", "--tray")
    assert result.returncode == 5
    assert result.stderr == f"p2psync: {NO_PYSIDE6}\n"
    config, data = Path(headless["XDG_CONFIG_HOME"]), Path(headless["XDG_DATA_HOME"])
    assert not config.exists()
    assert not data.exists()
    result = python(headless, "-m", "p2psync", "service", "install", "--no-enable")
    assert result.returncode == 0, result.stderr
    unit = (config / "systemd/user/p2psync.service").read_text()
    assert f"ExecStart={sys.executable} -m p2psync run" in unit.splitlines()


def test_pyside6_comes_only_with_the_tray_extra() -> None:
    """``pip install p2psync`` has no Qt; ``[tray]`` and ``[test]`` (the GUI tests) do, and
    ``make`` installs both."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert [d for d in project["dependencies"] if "pyside" in d.lower()] == []
    assert [d for d in extras["tray"] if d.startswith("PySide6-Essentials")] != []
    assert "p2psync[tray]" in extras["test"]
    makefile = (ROOT / "Makefile").read_text()
    assert "-e '.[tray,test]'" in makefile
