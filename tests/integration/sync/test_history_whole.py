"""Versions of files that are not text, across two real daemons (issue 18): a binary
file's versions are listed, written elsewhere and restored (a new save of the old
bytes, synced); an app doc's (``.ydoc``) are listed and written elsewhere, and a
restore in place is refused in one sentence (docs/history.md says why)."""

from __future__ import annotations

from pathlib import Path

from tests.support.boards import board, cards_in, start
from tests.support.daemons import Device, cli, make_share, wait_for
from tests.support.history import started_with
from tests.support.history import versions as _versions
from tests.support.mirror import holds

PICTURE = b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 8
EDITED = PICTURE[:100] + b"\x00edited\x00" + PICTURE[100:]


def test_a_binary_files_versions_are_listed_written_and_restored(
    pair: list[Device], tmp_path: Path
) -> None:
    alice, bob = pair
    started_with(pair, "image.png", PICTURE)
    for count, data in enumerate([PICTURE, EDITED], start=1):
        (alice.folder / "image.png").write_bytes(data)
        wait_for(holds(bob.folder / "image.png", data), f"save {count} at bob")
        wait_for(lambda n=count: len(_versions(bob, "image.png")) == n,  # type: ignore[misc]
                 f"version {count} at bob")  # fmt: skip

    newest, oldest = _versions(bob, "image.png")
    assert (oldest["kind"], oldest["device"], oldest["size"]) == ("create", alice.id, len(PICTURE))
    assert (newest["kind"], newest["size"]) == ("remote change", len(EDITED))
    out = tmp_path / "first.png"
    cli(bob.home, "restore", str(bob.folder / "image.png"), "--version", "1", "--to", str(out))
    assert out.read_bytes() == PICTURE
    diff = cli(bob.home, "history", str(bob.folder / "image.png"), "--diff", "1", check=False)
    assert diff.returncode == 2
    assert diff.stderr.count("\n") == 1
    assert "no text to show" in diff.stderr

    restored = cli(bob.home, "restore", str(bob.folder / "image.png"), "--version", "1")
    assert "back to version 1" in restored.stdout
    for device in pair:
        wait_for(holds(device.folder / "image.png", PICTURE),
                 f"the restored bytes in {device.home.name}'s folder")  # fmt: skip
    assert _versions(bob, "image.png")[0]["kind"] == "restore"
    wait_for(lambda: _versions(alice, "image.png")[0]["device"] == bob.id, "bob's restore at alice")


def test_an_app_docs_versions_are_listed_and_written_elsewhere_not_restored_in_place(
    pair: list[Device], tmp_path: Path
) -> None:
    alice, bob = pair
    make_share(pair)
    start(alice, bob, a=1)
    wait_for(lambda: len(_versions(alice, "board.ydoc")) == 1, "the app doc's first version")
    (alice.folder / "board.ydoc").write_bytes(board(12, b=2))  # merged into the doc
    wait_for(lambda: cards_in(bob.folder / "board.ydoc") == {"a": 1, "b": 2}, "the merge at bob")
    wait_for(lambda: len(_versions(bob, "board.ydoc")) == 2, "two versions at bob")
    newest, oldest = _versions(bob, "board.ydoc")
    assert (oldest["number"], oldest["kind"], newest["number"]) == (1, "create", 2)
    assert newest["size"] > oldest["size"] > 0

    out = tmp_path / "then.ydoc"
    cli(bob.home, "restore", str(bob.folder / "board.ydoc"), "--version", "1", "--to", str(out))
    assert cards_in(out) == {"a": 1}
    refusals = {
        "restore": "cannot be applied as an edit that keeps concurrent changes",
        "history": "its versions have no text to show",
    }
    for command, why in refusals.items():
        option = "--version" if command == "restore" else "--diff"
        refused = cli(bob.home, command, str(bob.folder / "board.ydoc"), option, "1", check=False)
        assert refused.returncode == 2, command
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert why in refused.stderr
    assert cards_in(bob.folder / "board.ydoc") == {"a": 1, "b": 2}
