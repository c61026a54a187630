"""The files under packaging/ and in the package data are current and valid."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.packaging.units import SYSTEMD_ANALYZE, verify_unit

ROOT = Path(__file__).resolve().parents[2]
DESKTOP_FILE_VALIDATE = shutil.which("desktop-file-validate")


def _render_files() -> dict[Path, str]:
    script = ROOT / "packaging" / "render_files.py"
    spec = importlib.util.spec_from_file_location("render_files", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: dict[Path, str] = module.rendered()
    return result


def test_committed_system_files_match_the_package_templates() -> None:
    files = _render_files()
    assert len(files) == 3
    for path, text in files.items():
        assert path.read_text(encoding="utf-8") == text, f"run 'make packaging-files' ({path})"


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_system_unit_verifies(tmp_path: Path) -> None:
    # /usr/bin/p2psync does not exist here: point it at an executable that does
    text = (ROOT / "packaging/systemd/p2psync.service").read_text()
    unit = tmp_path / "p2psync.service"
    unit.write_text(text.replace("/usr/bin/p2psync", "/bin/true"))
    assert "ExecStart=/bin/true run" in unit.read_text()
    assert verify_unit(unit, tmp_path / "run") == []


@pytest.mark.skipif(DESKTOP_FILE_VALIDATE is None, reason="desktop-file-utils is not installed")
@pytest.mark.parametrize("entry", ["desktop", "autostart"])
def test_desktop_entries_validate(entry: str) -> None:
    assert DESKTOP_FILE_VALIDATE is not None
    path = ROOT / "packaging" / entry / "p2psync-tray.desktop"
    done = subprocess.run(
        [DESKTOP_FILE_VALIDATE, str(path)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_packaged_icons_come_from_the_current_svg() -> None:
    source = ROOT / "gui/p2psync_tray/icons/p2psync.svg"
    packaged = ROOT / "p2psync/data/icons/p2psync.svg"
    assert packaged.read_bytes() == source.read_bytes(), "run 'make icons'"
    assert source.stat().st_size > 0
