"""File history on real daemons (``daemons.Device``), as the CLI shows it: a file's
``versions``, the ``file_text`` in a device's folder, a pair ``started_with`` a file,
and two drafts of a text file."""

from __future__ import annotations

import json
from typing import Any

from tests.support.daemons import Device, cli, link, make_share

FIRST = "title\n\nfirst draft\n\nfooter\n"
"""A text file's first draft."""
SECOND = "title\n\nsecond draft, worse\n\nfooter\n"
"""Its second draft: a line changed."""


def versions(device: Device, name: str) -> list[Any]:
    """The versions of ``name`` that ``p2psync history --json`` lists on ``device``,
    newest first (none while the command fails: no such file yet)."""
    result = cli(device.home, "history", str(device.folder / name), "--json", check=False)
    if result.returncode != 0:
        return []
    found: list[Any] = json.loads(result.stdout)["versions"]
    return found


def file_text(device: Device, name: str) -> str | None:
    """The text of ``name`` in the folder of ``device``; None when it is not there."""
    try:
        return (device.folder / name).read_text()
    except FileNotFoundError:
        return None


def started_with(pair: list[Device], name: str, data: bytes) -> None:
    """The pair sharing a folder, ``name`` holding ``data`` on the first device as
    the daemons start, and linked."""
    make_share(pair)
    (pair[0].folder / name).write_bytes(data)
    for device in pair:
        device.start()
    link(pair)
