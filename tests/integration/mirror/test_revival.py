"""A one-doc text file deleted on one device while saved on another comes back with
the save, on both (``mirror.revival``; two engines, stores and "the network" as in
``test_chunked_files``)."""

from __future__ import annotations

from pathlib import Path

import trio
from trio.testing import MockClock

from p2psync.mirror import engine
from p2psync.mirror.manifest import MANIFEST_GUID
from tests.support.chunkedmirror import Device, delete, exchange, send


async def text_pair(tmp_path: Path) -> tuple[Device, Device]:
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    await alice.save("d.txt", "a\nb\n")
    await send(alice, bob)
    assert bob.path("d.txt").read_text() == "a\nb\n"
    return alice, bob


def settled(alice: Device, bob: Device, text: str) -> None:
    for device in (alice, bob):
        assert device.path("d.txt").read_text() == text, device.folder
        assert not device.mirror.view.by_path["d.txt"].deleted


def test_a_save_made_before_the_delete_arrived_brings_the_file_back(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob = await text_pair(tmp_path)
        await delete(alice, "d.txt")
        await bob.save("d.txt", "a\nb\nbob\n")
        await exchange(alice, bob)
        settled(alice, bob, "a\nb\nbob\n")

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_save_reaching_the_deleter_during_its_hold_brings_the_file_back(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        alice, bob = await text_pair(tmp_path)
        alice.path("d.txt").unlink()
        await alice.mirror.local_changes(["d.txt"])  # found gone: held
        await bob.save("d.txt", "a\nb\nbob\n")
        await send(bob, alice)  # the save arrives while the delete is held
        await trio.sleep(engine.VANISHED_HOLD_S)
        await alice.mirror.flush()  # the delete is told, with the state found gone
        await exchange(alice, bob)
        settled(alice, bob, "a\nb\nbob\n")

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_save_not_yet_read_when_the_delete_arrives_brings_the_file_back(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        alice, bob = await text_pair(tmp_path)
        await delete(alice, "d.txt")
        bob.path("d.txt").write_text("a\nb\nbob\n")  # the watcher has not told yet
        await send(alice, bob, [MANIFEST_GUID])
        await bob.mirror.local_changes(["d.txt"])
        await bob.mirror.flush()
        await exchange(alice, bob)
        settled(alice, bob, "a\nb\nbob\n")

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_further_saves_after_the_revival_all_arrive(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob = await text_pair(tmp_path)
        await delete(alice, "d.txt")
        await bob.save("d.txt", "a\nb\nbob\n")
        await send(alice, bob, [MANIFEST_GUID])
        await bob.save("d.txt", "a\nb\nbob\nbob2\n")
        await exchange(alice, bob)
        await alice.save("d.txt", "alice\na\nb\nbob\nbob2\n")
        await exchange(alice, bob)
        settled(alice, bob, "alice\na\nb\nbob\nbob2\n")

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_save_that_reached_the_deleter_before_it_found_the_file_gone_brings_it_back(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        alice, bob = await text_pair(tmp_path)
        alice.path("d.txt").unlink()  # the watcher has not told alice's mirror yet
        await bob.save("d.txt", "a\nb\nbob\n")
        await send(bob, alice)  # alice's mirror finds the file gone only now
        await trio.sleep(engine.VANISHED_HOLD_S)
        await alice.mirror.flush()
        await exchange(alice, bob)
        settled(alice, bob, "a\nb\nbob\n")

    trio.run(main, clock=MockClock(autojump_threshold=0))
