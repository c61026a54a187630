"""The ``p2psync`` argument parser, built from ``COMMANDS``: each command's name, the
module that implements it and its one-line help.

A command's module, and all it imports (the daemon, Trio, pycrdt...), is imported only
once that command is chosen, so that ``p2psync status`` loads the control client and
not the daemon (docs/benchmarks.md, "CLI start"). ``cli.main`` imports this module
only for a command line its shortcut does not take (``main.shortcut``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from pathlib import Path

from p2psync import __version__
from p2psync.control.errorcodes import EXIT_USAGE

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (control/home.py)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn


class Command:
    """A command of ``p2psync``: the module whose ``register(commands)`` adds its parser,
    and the line ``p2psync --help`` shows for it (the same as the module's)."""

    __slots__ = ("help", "module")

    def __init__(self, module: str, help: str) -> None:
        self.module = module
        self.help = help


# Help lists them in this order. A new command group is one module (with its
# ``register``) and an entry here per command it adds.
COMMANDS: dict[str, Command] = {
    "id": Command("p2psync.cli.ident", "print this device's ID"),
    "name": Command("p2psync.cli.name", "rename this device (the name peers see)"),
    "run": Command("p2psync.cli.run", "run the daemon in the foreground"),
    "share": Command("p2psync.cli.shares", "manage shared folders"),
    "invite": Command("p2psync.cli.invite", "print a one-time code that lets a device join"),
    "join": Command("p2psync.cli.invite", "join a share with an invite code"),
    "peer": Command("p2psync.cli.peer", "manage known peers"),
    "status": Command("p2psync.cli.status", "state of this device and its shares"),
    "peers": Command("p2psync.cli.status", "known, connected and pending devices"),
    "conflicts": Command("p2psync.cli.conflicts", "copies of versions that lost, per share"),
    "wait-idle": Command("p2psync.cli.wait", "wait until every connected member is in sync"),
    "pause": Command("p2psync.cli.pause", "stop syncing (everything, or one share)"),
    "resume": Command("p2psync.cli.pause", "sync again after pause"),
    "events": Command("p2psync.cli.events", "follow what the daemon does (until Ctrl-C)"),
    "doc": Command("p2psync.cli.doc", "read or change a document as Yjs updates"),
    "history": Command("p2psync.cli.history", "a text file's past versions, newest first"),
    "restore": Command("p2psync.cli.history", "bring a text file back to a past version"),
    "compact": Command("p2psync.cli.compact", "compact doc logs now"),
    "doctor": Command("p2psync.cli.doctor", "verify every doc log and report damage"),
    "demo": Command("p2psync.cli.demo", "two local daemons syncing a share, for a look"),
    "service": Command("p2psync.cli.service", "run the daemon as a systemd user service"),
}

if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


class LazyCommands(_SubParsers):
    """The subcommands, each a placeholder parser until it is chosen: then its module
    is imported and its ``register`` replaces the placeholders of the module's
    commands with the real parsers. Help (from ``COMMANDS``) and order stay as they were."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.placeholders: set[str] = set()
        """The commands whose module is not imported yet."""
        self._placeholder = argparse.ArgumentParser(add_help=False)
        """What each of them maps to until ``load``: never parsed with (making a parser
        per command, each with its help option, was most of ``p2psync status``'s
        start-up)."""

    def add_placeholder(self, name: str) -> None:
        """``name`` among the choices, with its help line, its parser made by ``load``."""
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), COMMANDS[name].help))
        self._name_parser_map[name] = self._placeholder
        self.placeholders.add(name)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if values and not isinstance(values, str) and values[0] in COMMANDS:
            self.load(values[0])
        super().__call__(parser, namespace, values, option_string)

    def load(self, name: str) -> None:
        """Import ``name``'s module and register its commands (once)."""
        if name not in self.placeholders:
            return
        module = COMMANDS[name].module
        parsers = self._name_parser_map  # also the action's ``choices``: changed in place
        order, help_lines = list(parsers), list(self._choices_actions)
        for command in [n for n, c in COMMANDS.items() if c.module == module]:
            del parsers[command]
            self.placeholders.discard(command)
        importlib.import_module(module).register(self)
        loaded = dict(parsers)
        parsers.clear()
        parsers.update((command, loaded[command]) for command in order)
        self._choices_actions[:] = help_lines


class Formatter(argparse.HelpFormatter):
    """argparse's help layout, as wide as the terminal, found without ``shutil``:
    argparse makes a formatter for every option it adds, and importing ``shutil`` for
    its terminal size was a few milliseconds of every command's start."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:  # fmt: skip
        super().__init__(prog, indent_increment, max_help_position, width or _columns() - 2)


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it: ``COLUMNS``, else
    standard output's terminal, else 80."""
    with contextlib.suppress(ValueError):
        if (columns := int(os.environ.get("COLUMNS", "0"))) > 0:
            return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no standard output, or not a terminal
        return 80


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one sentence (subcommand parsers inherit it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"p2psync: {message} (see '{self.prog} --help')\n")


def _home(text: str) -> Path:
    """``--home``'s folder; an empty one is refused (it would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: name a folder")
    return Path(text)


def build_parser(*, load_all: bool = False) -> argparse.ArgumentParser:
    """The ``p2psync`` parser; its commands' modules are imported when one is chosen,
    or all at once with ``load_all`` (for a walk over every command and option)."""
    parser = Parser(prog="p2psync", description="Serverless LAN document sync.")
    parser.add_argument("--version", action="version", version=f"p2psync {__version__}")
    parser.add_argument("--home", type=_home, help="directory of this device (default: XDG)")
    parser.register("action", "parsers", LazyCommands)
    commands = parser.add_subparsers(dest="command", required=True)
    assert isinstance(commands, LazyCommands)
    for name in COMMANDS:
        commands.add_placeholder(name)
    if load_all:
        for name in COMMANDS:
            commands.load(name)
    return parser
