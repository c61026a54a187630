"""A first scan and a first sync of many files on real daemons (``daemons.Device``): a
share folder filled with ``FILES`` files (``start_with_files``), what a folder holds
(``tree``), and how many files a daemon lists (``listed``)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from tests.support.daemons import Device, make_share

FILES = 600
"""Files in the folder: enough that a first sync takes many groups of docs."""
DEADLINE_S = 180.0
"""How long a scan or a sync of ``FILES`` files may take on a busy machine."""


def make_files(folder: Path, count: int) -> None:
    """``count`` files in 30 folders: one in ten binary, the rest text."""
    rng = random.Random(19)
    for i in range(count):
        sub = folder / f"d{i % 30:02}"
        sub.mkdir(parents=True, exist_ok=True)
        if i % 10 == 9:
            (sub / f"f{i:04}.bin").write_bytes(rng.randbytes(2048))
        else:
            (sub / f"f{i:04}.md").write_text(f"file {i}\n" * rng.randint(1, 60))


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of the share folder but the daemon's own, by share path."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and not path.relative_to(folder).parts[0].startswith(".p2psync")
    }


def share_status(device: Device) -> dict[str, Any]:
    """The status of the share of ``device``'s folder, asked of its control socket."""
    with ControlClient(Home.resolve(device.home).socket_path) as client:
        shares: list[dict[str, Any]] = client.call("status")["shares"]
    return next(s for s in shares if s["path"] == str(device.folder))


def listed(device: Device) -> int:
    """How many files the daemon of ``device`` lists in its share."""
    return int(share_status(device).get("files", 0))


def start_with_files(first: Device, members: list[Device], count: int = FILES) -> dict[str, bytes]:
    """Fill ``first``'s folder with ``count`` files, make the share of ``members`` and
    start ``first`` (its first scan begins); the files made, by share path."""
    make_files(first.folder, count)
    want = tree(first.folder)
    make_share(members)
    first.start()
    return want
