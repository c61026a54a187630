"""A large (chunked) text file's first version survives the daemon stopping right
after it took the file in: its version is recorded behind the take-in, by a task of
the share, so a daemon stopped at that moment had stored the file but not its
version, and the next daemon must catch it up (docs/history.md, "Large (chunked)
files"). The first daemon runs in this process, so that it stops at the very moment
the mirror names the file; the next one is started and asked as a user would."""

from __future__ import annotations

from pathlib import Path

import trio

from p2psync.control.home import Home
from p2psync.daemon.daemon import Daemon
from p2psync.daemon.deletions import Deletions
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry
from p2psync.storage.layout import log_path
from p2psync.storage.versionindex import load_timeline, versions_path
from tests.support.chunkeddaemons import CHUNKED_FILE_BYTES, configure
from tests.support.daemons import Device, cli, setup, wait_for
from tests.support.history import versions

TEXT = "".join(f"line {n:05} of a long log\n" for n in range(1_600))
MORE = "one more line, saved while the daemon was down\n"


def _take_in_and_stop(device: Device, name: str) -> str:
    """Run ``device``'s daemon in this process until its mirror tells the share that
    it named ``name`` (written now), then stop it there, as a crash would: the share
    is not told, so it records no version. The file's root doc guid."""
    daemon = Daemon(Home.resolve(device.home), listen="127.0.0.1:0", mdns=False)
    share = next(s for s in daemon.config.shares if s.path == device.folder)
    found: list[Entry] = []

    async def main() -> None:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                mirror = daemon.shares[share.id].mirror
                assert mirror is not None

                async def taken_in(deletions: Deletions, _peer: object) -> None:
                    found.extend(e for e in deletions.appeared if e.path == name)
                    if found:
                        nursery.cancel_scope.cancel()

                mirror.on_deletions = taken_in
                (device.folder / name).write_text(TEXT)
                await trio.sleep_forever()

    trio.run(main)
    assert found[0].kind is FileKind.CHUNKED
    return found[0].guid


def _device(tmp_path: Path) -> Device:
    """Alice with a share and the lowered chunking thresholds, her daemon not started."""
    alice = Device(tmp_path, "alice")
    setup(alice.home, "share", "add", str(alice.folder), "--create")
    configure(alice)
    return alice


def _version_text(device: Device, name: str, number: int, tmp_path: Path) -> str:
    """Version ``number`` of ``name`` as ``restore --to`` writes it."""
    out = tmp_path / f"version-{number}"
    cli(device.home, "restore", str(device.folder / name), "--version", str(number),
        "--to", str(out))  # fmt: skip
    return out.read_text()


def test_a_chunked_files_first_version_survives_a_stop_right_after_its_take_in(
    tmp_path: Path,
) -> None:
    assert len(TEXT.encode()) > CHUNKED_FILE_BYTES
    alice = _device(tmp_path)
    root = _take_in_and_stop(alice, "big.log")
    assert load_timeline(versions_path(log_path(alice.folder, root))) == []  # none recorded
    alice.start()
    try:
        wait_for(lambda: len(versions(alice, "big.log")) == 1, "the first version listed")
        (first,) = versions(alice, "big.log")
        assert (first["number"], first["kind"], first["device"]) == (1, "create", alice.id)
        assert (first["size"], first["added"]) == (len(TEXT.encode()), len(TEXT))
        assert _version_text(alice, "big.log", 1, tmp_path) == TEXT
    finally:
        alice.stop()


def test_a_chunked_files_first_version_is_its_text_then_though_saved_while_down(
    tmp_path: Path,
) -> None:
    """The daemon stopped before the file's first version, and the file was saved
    again while it was down: the next daemon records the text the file was taken in
    with as its first version before it takes the save in, then the save as the next
    (the first version was the saved text, the text taken in gone from the history)."""
    alice = _device(tmp_path)
    _take_in_and_stop(alice, "big.log")
    with (alice.folder / "big.log").open("a") as file:
        file.write(MORE)
    alice.start()
    try:
        wait_for(lambda: len(versions(alice, "big.log")) == 2, "two versions listed")
        newest, first = versions(alice, "big.log")
        assert (first["number"], first["kind"], first["size"]) == (1, "create", len(TEXT))
        assert (newest["number"], newest["kind"]) == (2, "local save")
        assert (newest["size"], newest["added"]) == (len(TEXT + MORE), len(MORE))
        assert _version_text(alice, "big.log", 1, tmp_path) == TEXT
    finally:
        alice.stop()
