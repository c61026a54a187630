"""A share held by two honest running daemons (alice, bob) with mallory as a third
member that never runs a daemon: the tests speak for mallory with raw bytes."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from p2psync.ids import DeviceId, ShareId
from tests.integration.hostile.hostile import Mallory
from tests.integration.sync.daemons import Device, link, make_share, wait_for


@dataclass
class Scene:
    alice: Device
    bob: Device
    mallory: Mallory
    share: ShareId

    @property
    def alice_id(self) -> DeviceId:
        return DeviceId.parse(self.alice.id)

    def alice_alive(self) -> bool:
        return self.alice.process is not None and self.alice.process.poll() is None


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    alice, bob, mallory = (Device(tmp_path, name) for name in ("alice", "bob", "mallory"))
    share = make_share([alice, bob, mallory])
    for device in (alice, bob):
        device.start()
    link([alice, bob])
    alice.apply_text("notes.md", "honest text. ", client_id=1)
    wait_for(lambda: bob.text("notes.md") == "honest text. ", "the first edit at bob")
    yield Scene(alice, bob, Mallory(mallory.home), ShareId.parse(share))
    for device in (alice, bob):
        device.stop(signal.SIGKILL)
