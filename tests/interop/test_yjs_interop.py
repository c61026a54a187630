"""The real Yjs library (npm ``yjs``, run with Node.js) and p2psync exchange updates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.daemons import Device, cli, link, make_share, start_all, wait_for

TOOL = Path(__file__).with_name("yjs_tool.mjs")
TEXT = "héllo 🙂 from Yjs, 字"


def yjs(*args: str) -> str:
    node = shutil.which("node")
    assert node is not None, "Node.js is required for the interop tests (make test installs yjs)"
    assert (TOOL.parent / "node_modules" / "yjs").is_dir(), "run `make test` to install yjs"
    return subprocess.run(
        [node, str(TOOL), *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout


@pytest.fixture
def pair(pair: list[Device]) -> list[Device]:
    make_share(pair)
    start_all(pair)
    link(pair)
    return pair


def test_a_yjs_update_syncs_and_the_export_loads_in_yjs(pair: list[Device], tmp_path: Path) -> None:
    alice, bob = pair
    update = tmp_path / "from-yjs.bin"
    yjs("make", str(update), TEXT)
    cli(alice.home, "doc", "apply", str(alice.folder / "shared.md"), str(update))
    wait_for(lambda: bob.text("shared.md") == TEXT, "the Yjs edit at bob")
    exported = tmp_path / "from-bob.bin"
    cli(bob.home, "doc", "export", str(bob.folder / "shared.md"), "-o", str(exported))
    assert yjs("text", str(exported)) == TEXT


def test_a_yjs_v2_update_is_refused_with_a_clear_error(pair: list[Device], tmp_path: Path) -> None:
    alice, _ = pair
    update = tmp_path / "v2.bin"
    yjs("make-v2", str(update), "v2 text")
    result = cli(alice.home, "doc", "apply", str(alice.folder / "v2.md"), str(update), check=False)
    assert result.returncode != 0
    assert "not a Yjs v1 update" in result.stderr
    assert "Traceback" not in result.stderr
    assert alice.text("v2.md") is None
