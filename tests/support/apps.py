"""The apps endpoint on real daemons (``daemons.Device``): turned on at any free port
(``enable_apps``), a doc's URL for an app (``doc_url``), a file as an app's edit
lands in it (``read``), and alice and bob sharing a folder with the endpoint on
(the fixture ``pair``, which a test module takes with ``pair = apps.pair``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemons import Device, cli, link, make_share, wait_for

SHARES: dict[str, str] = {}
"""The share that ``pair`` made, by the test's ``tmp_path``."""


def enable_apps(device: Device) -> None:
    """Any free port for the endpoint: tests run side by side."""
    with (device.home / "config.toml").open("a") as config:
        config.write("\n[apps]\nport = 0\n")


def doc_url(device: Device, name: str) -> dict[str, Any]:
    """What ``p2psync doc url --json`` gives for ``name`` in the folder of ``device``."""
    found: dict[str, Any] = json.loads(
        cli(device.home, "doc", "url", str(device.folder / name), "--json").stdout
    )
    return found


def read(path: Path) -> str | None:
    """The text of the file at ``path``; None when it is not there."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


@pytest.fixture
def pair(pair: list[Device], tmp_path: Path) -> list[Device]:
    """alice and bob, one share, the apps endpoint on any free port; not started."""
    SHARES[str(tmp_path)] = make_share(pair)
    for device in pair:
        enable_apps(device)
    return pair


def start(devices: list[Device], file: str, text: str) -> None:
    """``file`` holding ``text`` on the first device, both daemons running and linked,
    and the file synced to the second."""
    alice, bob = devices
    (alice.folder / file).write_text(text)
    for device in devices:
        device.start()
    link(devices)
    wait_for(lambda: read(bob.folder / file) == text, "the file at bob")
