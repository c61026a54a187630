"""The reference pages cannot drift from the code: the generated CLI page covers every
command and option, the committed exit-code page is the one the error table makes,
and the hand-written JSON page lists every ``--json`` command the parser has."""

from __future__ import annotations

import argparse
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from p2psync.cli import parser as cli_parser
from p2psync.control import errorcodes
from tests.support.snapshot import assert_snapshot

ROOT = Path(__file__).resolve().parents[2]


def _load(relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def leaf_commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ("p2psync",)
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                if not nested:
                    yield " ".join((*words, name)), sub
                yield from leaf_commands(sub, (*words, name))


def test_cli_reference_has_every_command_and_option() -> None:
    page = _load("packaging/docs/cli_reference.py").markdown()
    commands = dict(leaf_commands(cli_parser.build_parser(load_all=True)))
    assert "p2psync service install" in commands
    sections = page.split("\n## ")
    for command, parser in commands.items():
        section = next((s for s in sections if s.startswith(f"{command}\n")), None)
        assert section is not None, f"{command} has no section"
        assert f"usage: {command}" in section
        for action in parser._actions:
            for option in action.option_strings:
                assert option in section, f"{command} {option} is not documented"


def test_the_cli_reference_is_part_of_the_site_nav() -> None:
    mkdocs = (ROOT / "mkdocs.yml").read_text()
    assert "- packaging/docs/cli_reference.py" in mkdocs
    assert "reference/cli.md" in mkdocs
    assert not (ROOT / "docs/reference/cli.md").exists()  # generated, never committed


def test_exit_code_page_is_generated_from_the_error_table() -> None:
    """docs/reference/exit-codes.md is ``reference_page()``; with
    P2PSYNC_UPDATE_SNAPSHOTS=1 this rewrites it."""
    assert_snapshot("exit-codes.md", errorcodes.reference_page(), directory=ROOT / "docs/reference")
    table = (ROOT / "docs/reference/exit-codes.md").read_text()
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    constants = {v for k, v in vars(errorcodes).items() if k.startswith("EXIT_")}
    assert documented == constants == set(errorcodes.EXITS)
    assert {row.exit_code for row in errorcodes.ERRORS} <= documented
    for row in errorcodes.ERRORS:
        assert f"| `{row.code}` | {row.exit_code} |" in table


def test_control_api_page_points_to_the_error_codes() -> None:
    page = (ROOT / "docs/control-api.md").read_text()
    assert "reference/exit-codes.md#error-codes" in page


def test_json_page_lists_every_json_command() -> None:
    page = (ROOT / "docs/reference/json.md").read_text()
    with_json = [
        command
        for command, parser in leaf_commands(cli_parser.build_parser(load_all=True))
        if any("--json" in a.option_strings for a in parser._actions)
    ]
    assert "p2psync status" in with_json
    for command in with_json:
        assert f"`{command} --json`" in page, f"{command} --json is not in docs/reference/json.md"


def test_pages_missing_from_the_nav_are_listed_under_more(tmp_path: Path) -> None:
    hook = _load("packaging/docs/unlisted_pages.py")
    (tmp_path / "reference").mkdir()
    (tmp_path / "index.md").write_text("# Home\n")
    (tmp_path / "discovery.md").write_text("Intro\n\n# Discovery on the LAN\n")
    (tmp_path / "reference" / "x.md").write_text("no heading\n")
    nav = [{"Home": "index.md"}, {"Reference": [{"X": "reference/x.md"}]}]
    assert hook.unlisted(tmp_path, nav) == [{"Discovery on the LAN": "discovery.md"}]
    config = {"docs_dir": str(tmp_path), "nav": nav}
    assert hook.on_config(config)["nav"][-1] == {"More": [{"Discovery on the LAN": "discovery.md"}]}
