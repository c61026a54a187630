"""No module under tests/ imports a test module (``test_*.py``) or a ``conftest.py``:
what tests share lives in ``tests/support`` (docs/testing.md). A test module or a
conftest imported as a module is loaded a second time beside pytest's own copy (its
module-level code run again, its fixtures registered again), and ties one file's
helpers to another's tests."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names ``node``, in ``module``, may import: each module, and each
    ``module.name`` of a ``from module import name`` (a name may be a submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".")[: -node.level]
        base = ".".join([*package, *([base] if base else [])])
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imports_of_test_modules(root: Path) -> list[str]:
    """``path:line imported.name`` for every import, in a ``.py`` file under
    ``root/tests``, of a test module or a conftest under ``root/tests``."""
    found: list[str] = []
    for path in sorted((root / "tests").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _imported(module, node):
                target = root.joinpath(*name.split(".")).with_suffix(".py")
                test_file = target.name.startswith("test_") or target.name == "conftest.py"
                if name.startswith("tests.") and test_file and target.is_file():
                    found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_no_module_under_tests_imports_a_test_module_or_a_conftest() -> None:
    assert imports_of_test_modules(ROOT) == []


def test_every_form_of_importing_a_test_module_is_found(tmp_path: Path) -> None:
    """Absolute, from-package, plain and relative imports of a test module or a conftest
    are found; imports of helpers and of a name that merely starts with ``test_`` are
    not."""
    folder = tmp_path / "tests" / "unit"
    folder.mkdir(parents=True)
    (folder / "test_a.py").write_text("def helper() -> None: ...\n")
    (folder / "helpers.py").write_text("test_value = 1\n")
    (folder / "conftest.py").write_text("WAIT = 1\n")
    (folder / "test_b.py").write_text(
        "from tests.unit.test_a import helper\n"
        "from tests.unit import test_a\n"
        "import tests.unit.test_a\n"
        "from .test_a import helper as again\n"
        "from . import test_a as same\n"
        "from tests.unit.helpers import test_value\n"
        "from tests.unit import helpers\n"
        "from tests.unit.conftest import WAIT\n"
    )
    assert imports_of_test_modules(tmp_path) == [
        "tests/unit/test_b.py:1 tests.unit.test_a",
        "tests/unit/test_b.py:2 tests.unit.test_a",
        "tests/unit/test_b.py:3 tests.unit.test_a",
        "tests/unit/test_b.py:4 tests.unit.test_a",
        "tests/unit/test_b.py:5 tests.unit.test_a",
        "tests/unit/test_b.py:8 tests.unit.conftest",
    ]
