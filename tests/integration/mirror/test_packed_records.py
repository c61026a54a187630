"""Real daemons: a daemon stopped in order leaves its sync records in one file
(``synced/table.pack``) and its manifest's entries in another (``manifest.view``),
and its next start reads them from there. What changed in the
folder while it was down is taken in as after any start: a save is merged with a
peer's edit against the record's merge base (read from the record's own file), a
deleted file is deleted on the peer, a new one reaches it. The first record that
changes removes the pack."""

from __future__ import annotations

from collections.abc import Callable

from p2psync.mirror.state import PACK_NAME
from p2psync.mirror.viewcache import view_file
from tests.support.daemons import Device, cli, link, wait_for
from tests.support.mirror import read

FILES = {"a.txt": "one\n", "b.txt": "two\n", "c.txt": "three\n"}


def holds(device: Device, files: dict[str, str]) -> Callable[[], bool]:
    """Whether ``device``'s folder holds exactly ``files`` (the share's marker aside)."""

    def check() -> bool:
        names = {p.name for p in device.folder.iterdir() if p.name != ".p2psync"}
        return names == set(files) and all(
            read(device.folder / name) == text.encode() for name, text in files.items()
        )

    return check


def test_a_start_from_packed_records_takes_in_what_changed_while_down(
    share_of: Callable[..., list[Device]],
) -> None:
    alice, bob = share_of("alice", "bob")
    for name, text in FILES.items():
        (alice.folder / name).write_text(text)
    wait_for(holds(bob, FILES), "the files at bob")
    for device in (alice, bob):
        cli(device.home, "wait-idle", "--timeout", "30")
    bob.stop()
    pack = bob.folder / ".p2psync" / "synced" / PACK_NAME
    assert pack.is_file()
    assert view_file(bob.folder).is_file()
    (alice.folder / "a.txt").write_text("alice first\none\n")
    (bob.folder / "a.txt").write_text("one\nbob last\n")
    (bob.folder / "b.txt").unlink()
    (bob.folder / "d.txt").write_text("new at bob\n")
    bob.start()
    link([alice, bob])
    after = {"a.txt": "alice first\none\nbob last\n", "c.txt": "three\n", "d.txt": "new at bob\n"}
    wait_for(holds(alice, after), "bob's changes merged at alice")
    wait_for(holds(bob, after), "alice's edit merged at bob")
    assert not pack.exists()
