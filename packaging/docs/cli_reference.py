"""The CLI reference page of the docs site, generated from the argparse parser.

``markdown()`` walks ``p2psync.cli.parser.build_parser(load_all=True)`` and writes one section per
command with its ``--help`` text, so the reference cannot drift from the code. The
mkdocs hook ``on_files`` adds the result as ``reference/cli.md`` at build time (it
is never a file in the tree); ``python packaging/docs/cli_reference.py`` prints it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

from p2psync.cli.parser import build_parser

PAGE = "reference/cli.md"
HELP_WIDTH = "100"  # argparse reads COLUMNS; fixed so the page does not depend on a terminal

INTRO = """# Command-line reference

Generated from the `p2psync` argument parser when the site is built: every command
and option below is exactly what this release accepts. For what the commands do,
their output and their `--json` forms, see the [command guide](../cli.md); exit
codes are in [exit codes](exit-codes.md).

"""


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, Any]]:
    """(name, one-line help, parser) of each direct subcommand, in help order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def _walk(parser: argparse.ArgumentParser, words: list[str]) -> Iterator[tuple[str, str, str]]:
    """(command words, help line, --help text) of every command that runs something."""
    for name, line, sub in _subcommands(parser):
        command = [*words, name]
        children = list(_subcommands(sub))
        if not children:
            yield " ".join(command), line, sub.format_help()
        yield from _walk(sub, command)


def markdown() -> str:
    """The whole reference page."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        parser = build_parser(load_all=True)
        commands = list(_walk(parser, ["p2psync"]))
        top = parser.format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    out = [INTRO, "| command | does |\n|---|---|\n"]
    out += [f"| [`{c}`](#{_anchor(c)}) | {line} |\n" for c, line, _ in commands]
    out.append(f"\n## p2psync\n\n```text\n{top}```\n")
    for command, line, text in commands:
        out.append(f"\n## {command}\n\n{line[:1].upper() + line[1:]}.\n\n```text\n{text}```\n")
    return "".join(out)


def _anchor(command: str) -> str:
    """The id mkdocs gives the heading ``## command``."""
    return command.replace(" ", "-").replace("_", "-").lower()


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated page to the site."""
    from mkdocs.structure.files import File  # noqa: PLC0415 - only inside an mkdocs build

    files.append(File.generated(config, PAGE, content=markdown()))
    return files


if __name__ == "__main__":
    print(markdown(), end="")
