"""Snapshots of ``status``, ``peers`` and ``share list``, human and JSON, from real daemons.

Alpha and Beta share a folder holding one document and are in sync; Gamma, a device
in no share of Alpha's, dials Alpha and shows up as pending. The output of Alpha's
commands is normalised (snapshot.Normaliser) and compared with the files in
snapshots/; ``P2PSYNC_UPDATE_SNAPSHOTS=1`` rewrites them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from p2psync import __version__
from p2psync.config import load_config, save_config
from tests.support.daemons import Device, cli, dial_first, link, make_share, start_all, wait_for
from tests.support.snapshot import Normaliser, assert_snapshot


def named(device: Device, name: str) -> Device:
    """Give ``device`` a fixed name (the default is the host's name)."""
    config_path = device.home / "config.toml"
    cli(device.home, "share", "list")  # writes the first config
    save_config(config_path, replace(load_config(config_path), device_name=name))
    return device


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Device, Normaliser]]:
    root = tmp_path_factory.mktemp("snap")
    alpha, beta, gamma = (named(Device(root, n), n) for n in ("alpha", "beta", "gamma"))
    make_share([alpha, beta])
    devices = [alpha, beta, gamma]
    try:
        start_all([alpha, beta])
        dial_first(alpha, beta)  # alpha's link to beta is "static"
        link([alpha, beta])
        alpha.apply_text("notes.md", "hello", client_id=7)
        assert cli(alpha.home, "wait-idle", "--min-peers", "1", "--quiet").returncode == 0
        wait_for(lambda: beta.text("notes.md") == "hello", "the doc to reach beta")
        assert cli(beta.home, "wait-idle", "--min-peers", "1", "--quiet").returncode == 0
        gamma.start()
        cli(gamma.home, "peer", "add", alpha.id, alpha.address)
        wait_for(lambda: bool(alpha.status()["pending"]), "gamma to be pending on alpha")
        wait_for(lambda: alpha.status()["shares"][-1]["in_sync"], "alpha's share in sync")
        ids = {alpha.id: "A", beta.id: "B", gamma.id: "C"}
        shares = [share["id"] for share in alpha.status()["shares"]]
        yield alpha, Normaliser(root, ids, __version__, shares)
    finally:
        for device in devices:
            device.stop()


@pytest.mark.parametrize("command", [["status"], ["peers"], ["share", "list"]])
def test_human_output(scene: tuple[Device, Normaliser], command: list[str]) -> None:
    alpha, normalise = scene
    result = cli(alpha.home, *command)
    assert result.stderr == ""
    assert_snapshot(f"{'-'.join(command)}.txt", normalise.human(result.stdout))


@pytest.mark.parametrize("command", [["status"], ["peers"], ["share", "list"]])
def test_json_output(scene: tuple[Device, Normaliser], command: list[str]) -> None:
    alpha, normalise = scene
    result = cli(alpha.home, *command, "--json")
    assert result.stderr == ""
    json.loads(result.stdout)  # one JSON document
    assert_snapshot(f"{'-'.join(command)}.json", normalise.json(result.stdout))
