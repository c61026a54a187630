"""A first sync's files still to write, in ``status``: the receiver holds every file's
doc while its mirror has written none of them (held back here at its first group
write), and ``status`` says so, in ``files_to_write`` and in words, and neither the
share nor the device is idle; once the mirror goes on, the figure falls to 0 with
every file on disk. The receiver runs in this process, so that its mirror is held
back at a chosen point and nothing waits on time; the sender is a daemon of its own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trio

from p2psync.control.home import Home
from p2psync.daemon.api import ControlApi
from p2psync.daemon.daemon import Daemon
from p2psync.ids import ShareId
from tests.support.daemons import Device, cli, link, make_share, wait_for

FILES = 40
DEADLINE_S = 60
POLL_S = 0.02


def files_of(device: Device, share: str) -> int:
    return int(next(s for s in device.status()["shares"] if s["id"] == share).get("files", 0))


def test_status_counts_the_files_received_and_not_yet_written_to_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    share = make_share([alice, bob])
    want = {f"note-{n:02}.md": f"note {n}\n" for n in range(FILES)}
    for name, text in want.items():
        (alice.folder / name).write_text(text)
    daemon = Daemon(Home.resolve(bob.home), listen="127.0.0.1:0", mdns=False)
    api = ControlApi(daemon).handlers()
    release = trio.Event()
    seen: dict[str, Any] = {}

    async def bob_share() -> dict[str, Any]:
        status = await api["status"]({})
        return dict(next(s for s in status["shares"] if s["id"] == share))

    async def poll_until(done: Any) -> dict[str, Any]:
        while not done(row := await bob_share()):
            await trio.sleep(POLL_S)
        return row

    async def main() -> None:
        with trio.fail_after(DEADLINE_S):
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                bob.address = daemon.listen_address
                mirror = daemon.shares[ShareId.parse(share)].mirror
                assert mirror is not None
                newwrites = mirror.mirror.newwrites
                write = newwrites.write

                async def held_write(rels: Sequence[str]) -> None:
                    if rels:  # new files from the peer: none written until released
                        await release.wait()
                    await write(rels)

                monkeypatch.setattr(newwrites, "write", held_write)
                await trio.to_thread.run_sync(link, [alice, bob])
                seen["held"] = await poll_until(
                    lambda r: r["files"] == r["files_to_write"] == FILES
                )
                seen["idle"] = (await api["idle"]({}))["idle"]
                seen["on disk"] = sorted(p.name for p in bob.folder.glob("note-*"))
                said = await trio.to_thread.run_sync(cli, bob.home, "status")
                seen["said"] = said.stdout
                release.set()
                seen["done"] = await poll_until(lambda r: r["settled"] and not r["files_to_write"])
                said = await trio.to_thread.run_sync(cli, bob.home, "status")
                seen["said after"] = said.stdout
                nursery.cancel_scope.cancel()

    alice.start()
    try:
        wait_for(lambda: files_of(alice, share) == FILES, "alice's first scan")
        trio.run(main)
    finally:
        alice.stop()
    held = seen["held"]  # the manifest's entries read, every file's doc here
    assert (held["settled"], held["in_sync"], seen["idle"]) == (False, False, False)
    assert seen["on disk"] == []  # every doc here, no file written yet
    assert f"Folders:\n  {share}: writing {FILES} files to the folder (" in seen["said"]
    assert seen["done"]["files"] == FILES
    assert {p.name: p.read_text() for p in bob.folder.glob("note-*")} == want
    assert "writing" not in seen["said after"]
