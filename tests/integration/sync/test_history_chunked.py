"""Versions of a large (chunked) text file across two real daemons (issue 18): listed
on both devices, diffed, written elsewhere and restored as a new edit that keeps a
concurrent edit in another chunk, after compaction and a restart too. The chunking
thresholds are lowered (``[docs]``) so a 40 KB file has about ten chunks."""

from __future__ import annotations

from pathlib import Path

from tests.support.chunkeddaemons import CHUNKED_FILE_BYTES, configure, linked_pair
from tests.support.daemons import Device, cli, link, setup, wait_for
from tests.support.history import file_text as _file
from tests.support.history import versions as _versions

FIRST = "".join(f"line {n:05} of a long log\n" for n in range(1_600))
SECOND = FIRST.replace("line 01500 of a long log\n", "line 01500 rewritten near the end\n")
THIRD = SECOND.replace("line 00003 of a long log\n", "line 00003 edited by alice\n")
MERGED = FIRST.replace("line 00003 of a long log\n", "line 00003 edited by alice\n")


def test_a_chunked_files_versions_are_listed_diffed_and_restored(tmp_path: Path) -> None:
    assert len(FIRST.encode()) > CHUNKED_FILE_BYTES
    with linked_pair(tmp_path) as (alice, bob):
        for count, text in enumerate([FIRST, SECOND], start=1):  # each a version at bob
            (alice.folder / "big.log").write_text(text)
            wait_for(lambda t=text: _file(bob, "big.log") == t, f"save {count} at bob")  # type: ignore[misc]
            wait_for(lambda n=count: len(_versions(bob, "big.log")) == n,  # type: ignore[misc]
                     f"version {count} at bob")  # fmt: skip

        newest, oldest = _versions(bob, "big.log")
        assert (oldest["number"], oldest["kind"], oldest["device"]) == (1, "create", alice.id)
        assert (oldest["size"], oldest["added"], oldest["removed"]) == (
            len(FIRST.encode()), len(FIRST), 0)  # fmt: skip
        assert (newest["number"], newest["kind"], newest["device"]) == (2, "remote change",
                                                                        alice.id)  # fmt: skip
        assert newest["size"] == len(SECOND.encode())
        assert 0 < newest["added"] < 40
        assert 0 < newest["removed"] < 40
        assert [v["kind"] for v in _versions(alice, "big.log")] == ["local save", "create"]
        diff = cli(bob.home, "history", str(bob.folder / "big.log"), "--diff", "1").stdout
        assert "-line 01500 of a long log\n" in diff
        assert "+line 01500 rewritten near the end\n" in diff

        # Compaction and a restart keep the versions' texts.
        assert cli(bob.home, "compact", "--json").returncode == 0
        bob.stop()
        bob.start()
        out = tmp_path / "first.log"
        cli(bob.home, "restore", str(bob.folder / "big.log"), "--version", "1", "--to", str(out))
        assert out.read_text() == FIRST
        assert _file(bob, "big.log") == SECOND

        # Alice edits the start while cut off; bob restores version 1 (the end).
        cli(alice.home, "pause")
        (alice.folder / "big.log").write_text(THIRD)
        wait_for(  # a version of its own, or the last save's replaced (closer than 10 s)
            lambda: _versions(alice, "big.log")[0]["size"] == len(THIRD.encode()),
            "alice's edit in her history",
        )
        restored = cli(bob.home, "restore", str(bob.folder / "big.log"), "--version", "1")
        assert "back to version 1" in restored.stdout
        wait_for(lambda: _file(bob, "big.log") == FIRST, "the restored file at bob")
        wait_for(lambda: _versions(bob, "big.log")[0]["kind"] == "restore", "bob's restore")
        cli(alice.home, "resume")
        link([alice, bob])
        wait_for(lambda: _file(alice, "big.log") == MERGED, "the restore merged at alice")
        wait_for(lambda: _file(bob, "big.log") == MERGED, "alice's edit merged at bob")


def test_a_deleted_chunked_file_restored_has_one_restore_version(tmp_path: Path) -> None:
    """Brought back at its last version (what ``history --deleted`` offers), the file
    is live again with the text its docs kept: one ``restore`` version follows the
    deletion, not a ``local save`` of the whole text by this device before it (the
    file's return was also taken for a new chunked file's first version)."""
    alice = Device(tmp_path, "alice")
    setup(alice.home, "share", "add", str(alice.folder), "--create")
    configure(alice)
    alice.start()
    try:
        (alice.folder / "big.log").write_text(FIRST)
        wait_for(lambda: len(_versions(alice, "big.log")) == 1, "the first version")
        (alice.folder / "big.log").unlink()
        wait_for(lambda: _versions(alice, "big.log")[0]["kind"] == "delete", "the deletion")
        cli(alice.home, "restore", str(alice.folder / "big.log"), "--version", "1")
        wait_for(lambda: _file(alice, "big.log") == FIRST, "the file back")
        wait_for(lambda: _versions(alice, "big.log")[0]["kind"] == "restore", "the restore")
        cli(alice.home, "wait-idle", "--timeout", "30")
        versions = _versions(alice, "big.log")
        assert [v["kind"] for v in versions] == ["restore", "delete", "create"]
        assert versions[0]["size"] == len(FIRST.encode())
    finally:
        alice.stop()
