"""The import contracts of pyproject.toml hold, and cover every package (docs/architecture.md).

``make lint`` runs the same contracts; CI runs ``make test``, so this is where they are
enforced: an import that points up the layers, or a second module that imports
watchdog or zeroconf, fails here with import-linter's report of the offending line.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"

RUN_CONTRACTS = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def _importlinter() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        config: dict[str, Any] = tomllib.load(file)["tool"]["importlinter"]
    return config


def _layered() -> set[str]:
    """Every module named in the layers contract."""
    (layers,) = [c["layers"] for c in _importlinter()["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}


def _top_level_units() -> set[str]:
    """The modules and packages directly under p2psync/, and the tray app's package."""
    units = {"p2psync_tray"}
    for path in (ROOT / "p2psync").iterdir():
        if path.suffix == ".py" and path.name != "__init__.py":
            units.add(f"p2psync.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").exists():
            units.add(f"p2psync.{path.name}")
    return units


def test_import_contracts_are_kept() -> None:
    """import-linter, run on this checkout (p2psync/ and gui/), breaks no contract."""
    paths = [str(ROOT), str(ROOT / "gui"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    result = subprocess.run(
        [sys.executable, "-c", RUN_CONTRACTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    count = len(_importlinter()["contracts"])
    assert f"Contracts: {count} kept, 0 broken." in report, report


def test_every_package_stands_on_a_layer() -> None:
    """A new package or top-level module must be placed in the layers contract (a module
    on no layer is checked by no layer rule)."""
    assert _top_level_units() == _layered()


def test_every_subpackage_is_a_regular_package() -> None:
    """Every folder of Python modules under p2psync/ has an ``__init__.py`` (import-linter
    and the layers test above do not see a namespace package)."""
    folders = {path.parent for path in (ROOT / "p2psync").rglob("*.py")}
    assert [f for f in sorted(folders) if not (f / "__init__.py").exists()] == []


def test_every_package_docstring_lists_its_modules() -> None:
    """Each package's ``__init__.py`` docstring names each of its modules, and the root
    package each subpackage (as ``name``): one line about every file of a package."""
    inits = [*(ROOT / "p2psync").rglob("__init__.py"), ROOT / "gui/p2psync_tray/__init__.py"]
    unlisted: list[str] = []
    for init in inits:
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        parts = [m for m in init.parent.glob("*.py") if m.name != "__init__.py"]
        parts += [d for d in init.parent.iterdir() if (d / "__init__.py").exists()]
        unlisted += [
            str(part.relative_to(ROOT)) for part in parts if f"``{part.stem}``" not in docstring
        ]
    assert sorted(unlisted) == []


def test_architecture_page_names_every_layer() -> None:
    """docs/architecture.md, which the layers contract follows, names every package by
    its path (``p2psync/mirror``, ``p2psync_tray``)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert [unit for unit in sorted(_layered()) if unit.replace(".", "/") not in text] == []
