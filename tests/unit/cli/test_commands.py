"""The command table of cli/main.py: each command's module is imported only when that
command is chosen, and the table agrees with what the modules register."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from p2psync.cli.main import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("trio", "zeroconf", "watchdog", "pycrdt", "cryptography", "p2psync.daemon")
"""What ``p2psync status`` must not import: the daemon and its libraries."""


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
        "from p2psync.cli.main import build_parser\n"
        "args = build_parser().parse_args(sys.argv[1:])\n"
        "print(json.dumps([args.func.__module__, sorted(sys.modules)]))\n"
    )
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [sys.executable, "-c", code, "--home", "/nonexistent", "status", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    module, modules = json.loads(done.stdout)
    assert module == "p2psync.cli.status"
    assert [m for m in modules if m.startswith(HEAVY)] == []
    others = {c.module for c in COMMANDS.values()} - {"p2psync.cli.status"}
    assert others.isdisjoint(modules)


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
