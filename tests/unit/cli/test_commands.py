"""The command table of cli/parser.py: each command's module is imported only when that
command is chosen, and the table agrees with what the modules register."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from p2psync.cli.main import shortcut
from p2psync.cli.parser import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("trio", "zeroconf", "watchdog", "pycrdt", "cryptography", "p2psync.daemon")
"""What ``p2psync status`` must not import: the daemon and its libraries."""


def _run_child(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with ``argv``, this checkout first on its path."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip


def test_the_table_names_each_modules_commands_with_their_help() -> None:
    for module in sorted({command.module for command in COMMANDS.values()}):
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(commands)
        registered = {a.dest: a.help for a in commands._choices_actions}
        table = {name: c.help for name, c in COMMANDS.items() if c.module == module}
        assert registered == table, module


def test_parsing_a_command_imports_its_module_and_not_the_daemon() -> None:
    code = (
        "import json, sys\n"
        "from p2psync.cli.parser import build_parser\n"
        "args = build_parser().parse_args(sys.argv[1:])\n"
        "print(json.dumps([args.func.__module__, sorted(sys.modules)]))\n"
    )
    done = _run_child(code, "--home", "/nonexistent", "status", "--json")
    module, modules = json.loads(done.stdout)
    assert module == "p2psync.cli.status"
    assert [m for m in modules if m.startswith(HEAVY)] == []
    others = {c.module for c in COMMANDS.values()} - {"p2psync.cli.status"}
    assert others.isdisjoint(modules)
    assert "p2psync.cli.statusview" not in modules  # the tables: not for --json


def test_a_chosen_command_parses_as_its_module_defines_it() -> None:
    args = build_parser().parse_args(["share", "member", "add", "S", "D", "--mode", "send-only"])
    assert (args.command, args.share_command, args.member_command) == ("share", "member", "add")
    assert args.mode == "send-only"
    assert args.func.__module__ == "p2psync.cli.shares"


def test_help_lists_every_command_in_table_order_before_any_is_loaded() -> None:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert [(a.dest, a.help) for a in commands._choices_actions] == [
        (name, c.help) for name, c in COMMANDS.items()
    ]
    full = build_parser(load_all=True)
    assert full.format_help() == parser.format_help()


def test_status_against_no_daemon_runs_without_the_daemon_or_its_libraries(
    tmp_path: Path,
) -> None:
    """The whole of ``p2psync status --json`` (parse, connect, fail, report), not only
    its parsing: neither the command nor its error path loads the daemon's libraries."""
    code = (
        "import json, sys\n"
        "from p2psync.cli.main import main\n"
        "status = main(sys.argv[1:])\n"
        "print(json.dumps([status, sorted(sys.modules)]))\n"
    )
    done = _run_child(code, "--home", str(tmp_path), "status", "--json")
    status, modules = json.loads(done.stdout.splitlines()[-1])
    assert status != 0, "no daemon runs in an empty home"
    assert "daemon" in done.stderr
    assert [m for m in modules if m.startswith(HEAVY)] == []


def test_status_imports_neither_typing_nor_base64_nor_argparse(tmp_path: Path) -> None:
    """Its modules import typing only for type checkers, base64 only for a reply in
    parts, and its command line is read without argparse (``main.shortcut``): each was
    milliseconds of ``p2psync status``'s start (docs/benchmarks.md)."""
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "from p2psync.cli.main import main\n"
        "main(sys.argv[1:])\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = _run_child(code, "--home", str(tmp_path), "status", "--json")
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "p2psync.cli.status" in loaded
    assert [m for m in loaded if m in ("typing", "base64", "argparse", "gettext", "locale")] == []


SHORTCUT = [
    ["status"],
    ["status", "--json"],
    ["peers"],
    ["peers", "--json"],
    ["status", "--json", "--json"],
    ["--home", "/h", "status", "--json"],
    ["--home=/h", "peers"],
    ["--home", "status", "status"],
    ["--home", "a b=c", "status"],
    ["--home=x=y", "peers", "--json"],
    ["--home", "~/h", "status"],
]
"""Command lines ``main.shortcut`` reads, without the parser."""

NOT_SHORTCUT = [
    [],
    ["-h"],
    ["--help"],
    ["--version"],
    ["status", "-h"],
    ["status", "--help"],
    ["status", "--js"],
    ["status", "--json=1"],
    ["status", "extra"],
    ["status", "--"],
    ["--", "status"],
    ["--json", "status"],
    ["status", "--home", "/h"],
    ["--hom", "/h", "status"],
    ["--home", "-x", "status"],
    ["--home=-x", "status"],
    ["--home", "", "status"],
    ["--home=", "status"],
    ["--home", "/h"],
    ["--home"],
    ["--home", "/h", "--home", "/i", "status"],
    ["Status"],
    ["share", "list"],
    ["wait-idle", "--json"],
]
"""Command lines it leaves to the parser: help, errors, abbreviations, other commands."""


def test_the_shortcut_reads_a_command_line_as_the_parser_does() -> None:
    for argv in SHORTCUT:
        args = build_parser().parse_args(argv)
        assert shortcut(argv) == (args.home, args.command, args.json), argv


def test_the_shortcut_leaves_every_other_command_line_to_the_parser() -> None:
    for argv in NOT_SHORTCUT:
        assert shortcut(argv) is None, argv


NETWORK = ("trio", "zeroconf", "watchdog", "cryptography", "p2psync.daemon.daemon")
"""What a config edit made without a daemon must not import: the daemon and its
network and watching libraries (it edits one file)."""


def test_config_edits_without_a_daemon_do_not_load_the_daemon(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from p2psync.cli.main import main\n"
        "status = main(sys.argv[1:])\n"
        "print(json.dumps([status, sorted(sys.modules)]))\n"
    )
    folder = tmp_path / "notes"
    folder.mkdir()
    for argv in (["name", "laptop"], ["share", "add", str(folder)]):
        done = _run_child(code, "--home", str(tmp_path / "home"), *argv)
        status, modules = json.loads(done.stdout.splitlines()[-1])
        assert status == 0, done.stderr
        assert [m for m in modules if m.startswith(NETWORK)] == []
    config = (tmp_path / "home" / "config.toml").read_text()
    assert "laptop" in config
    assert str(folder) in config
