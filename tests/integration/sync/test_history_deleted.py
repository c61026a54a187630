"""Deleted files in the file history across two real daemons: a deletion made on one
device is listed on the other with its device and last version, a deleted file and a
deleted folder come back with their content, and a folder is restored as it was at
a time (issue 18)."""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from p2psync.errors import ControlError
from tests.support.daemons import Device, cli, link, make_share, wait_for

NOTES = "notes\n\nkept for later\n"
ONE, TWO = "first text of b\n", "second text of b, by bob\n"
C = "the c file\n"


@pytest.fixture
def linked(pair: list[Device]) -> list[Device]:
    """The pair sharing a folder, running and linked."""
    make_share(pair)
    for device in pair:
        device.start()
    link(pair)
    return pair


def _deleted(device: Device) -> dict[str, Any]:
    result = cli(device.home, "history", "--deleted", str(device.folder), "--json", check=False)
    if result.returncode != 0:
        return {"files": [], "folders": []}
    (reply,) = json.loads(result.stdout)
    return dict(reply)


def _versions(device: Device, name: str) -> list[Any]:
    result = cli(device.home, "history", str(device.folder / name), "--json", check=False)
    versions: list[Any] = json.loads(result.stdout)["versions"] if result.returncode == 0 else []
    return versions


def _file(device: Device, name: str) -> str | None:
    try:
        return (device.folder / name).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _recorded(device: Device, count: int) -> bool:
    """``count`` files are deleted, each with its deletion in its history (the
    manifest says a file is deleted a moment before its timeline does)."""
    files = _deleted(device)["files"]
    return len(files) == count and all(f["deleted"] is not None for f in files)


def _holds(device: Device, name: str, text: str) -> bool:
    return _file(device, name) == text


def _has_versions(device: Device, name: str, count: int) -> bool:
    return len(_versions(device, name)) == count


def test_deleted_files_and_folders_are_listed_and_come_back(linked: list[Device]) -> None:
    alice, bob = linked

    (alice.folder / "a").mkdir()
    (alice.folder / "notes.md").write_text(NOTES)
    (alice.folder / "a" / "b.md").write_text(ONE)
    (alice.folder / "a" / "c.md").write_text(C)
    for name, text in (("notes.md", NOTES), ("a/b.md", ONE), ("a/c.md", C)):
        wait_for(partial(_holds, bob, name, text), f"{name} at bob")
        wait_for(partial(_has_versions, bob, name, 1), f"a version of {name} at bob")
    then = time.time()
    (bob.folder / "a" / "b.md").write_text(TWO)
    wait_for(lambda: _file(alice, "a/b.md") == TWO, "bob's edit of b at alice")
    wait_for(lambda: len(_versions(bob, "a/b.md")) == 2, "bob's edit as a version")

    (bob.folder / "notes.md").unlink()
    shutil.rmtree(bob.folder / "a")
    wait_for(lambda: _file(alice, "notes.md") is None, "notes.md gone at alice")
    wait_for(lambda: _file(alice, "a/b.md") is None, "a/ gone at alice")
    wait_for(partial(_recorded, alice, 3), "three deletions recorded at alice")
    wait_for(partial(_recorded, bob, 3), "three deletions recorded at bob")

    listed = _deleted(alice)
    files = {f["path"]: f for f in listed["files"]}
    assert set(files) == {"notes.md", "a/b.md", "a/c.md"}
    assert all(f["device"] == bob.id and f["deleted"] >= then for f in files.values())
    assert files["notes.md"]["last_version"]["size"] == len(NOTES.encode())
    assert files["a/b.md"]["last_version"]["size"] == len(TWO.encode())
    assert [(f["path"], f["files"], f["device"]) for f in listed["folders"]] == [("a", 2, bob.id)]
    assert {f["device"] for f in _deleted(bob)["files"]} == {bob.id}
    human = cli(alice.home, "history", "--deleted").stdout
    assert "a/" in human
    assert "notes.md" in human
    assert _versions(alice, "notes.md")[0]["kind"] == "delete"

    # The last version of a deleted file brings it back, on both devices.
    last = files["notes.md"]["last_version"]["number"]
    restored = cli(alice.home, "restore", str(alice.folder / "notes.md"), "--version", str(last))
    assert "back to version" in restored.stdout
    assert _file(alice, "notes.md") == NOTES  # written before the reply
    wait_for(lambda: _file(bob, "notes.md") == NOTES, "notes.md back at bob")
    assert _versions(alice, "notes.md")[0]["kind"] == "restore"
    wait_for(lambda: _versions(bob, "notes.md")[0]["kind"] == "restore", "a restore at bob")
    assert [f["path"] for f in _deleted(bob)["files"]] != ["notes.md"]

    # The folder as it was before bob's edit: b.md has its first text again.
    at = cli(bob.home, "restore", str(bob.folder / "a"), "--at",
             datetime.fromtimestamp(then).isoformat())  # fmt: skip
    assert "2 restored" in at.stdout
    for device in linked:
        wait_for(partial(_holds, device, "a/b.md", ONE), "b's first text")
        wait_for(partial(_holds, device, "a/c.md", C), "c back")
    wait_for(lambda: not _deleted(alice)["files"], "nothing deleted at alice")


def test_bad_deleted_and_at_requests_exit_with_one_sentence(
    pair: list[Device], tmp_path: Path
) -> None:
    alice, _ = pair
    share = make_share([alice])
    alice.start()
    (alice.folder / "notes.md").write_text(NOTES)
    wait_for(lambda: len(_versions(alice, "notes.md")) == 1, "a version at alice")
    (alice.folder / "notes.md").unlink()
    wait_for(lambda: _versions(alice, "notes.md")[0]["kind"] == "delete", "the deletion")
    by_id = json.loads(cli(alice.home, "history", "--deleted", share, "--json").stdout)
    assert [[f["path"] for f in reply["files"]] for reply in by_id] == [["notes.md"]]

    cases = [
        ("history", "--deleted", str(tmp_path / "elsewhere")),
        ("restore", str(alice.folder), "--at", "yesterday"),
        ("restore", str(alice.folder), "--at", "2999-01-01"),
        ("restore", str(alice.folder), "--at", "0001-01-01"),  # before the clock's start
        ("restore", str(alice.folder), "--at", "1h", "--to", str(tmp_path / "x")),
        ("restore", str(alice.folder / "notes.md"), "--version", "2"),
        ("restore", str(alice.folder / "notes.md"), "--version", "1", "--at", "1h"),
    ]
    internal = [  # the share's own folder: no folder of the share, one sentence naming it
        ("restore", str(alice.folder / ".p2psync"), "--at", "1h"),
        ("restore", str(alice.folder / ".P2PSYNC" / "logs"), "--at", "1h"),
        ("history", "--deleted", str(alice.folder / ".p2psync")),
    ]
    for args in cases + internal:
        result = cli(alice.home, *args, check=False)
        assert result.returncode == 2, (args, result)
        assert result.stderr.count("\n") <= 2, args  # argparse: its usage line and one sentence
        assert "Traceback" not in result.stderr, args
        if args in internal:
            assert result.stderr.count("\n") == 1, result.stderr
            assert (
                f"{args[-1] if args[0] == 'history' else args[1]} is not a folder of share "
                f"{share}: it is inside the internal .p2psync/ folder" in result.stderr
            )
    with pytest.raises(ControlError) as refused:  # the daemon refuses it the same way
        alice.ask("restore.at", share=share, dir=".p2psync", time=time.time())
    assert refused.value.code == "usage", str(refused.value)
    with pytest.raises(ControlError) as future:  # as the command refuses it
        alice.ask("restore.at", share=share, dir="", time=time.time() + 3600)
    assert future.value.code == "usage", str(future.value)
    assert "in the future" in str(future.value)
    assert _file(alice, "notes.md") is None
    assert [v["kind"] for v in _versions(alice, "notes.md")] == ["delete", "create"]


def test_a_deleted_file_whose_folder_is_a_file_now_is_not_brought_back(
    pair: list[Device],
) -> None:
    """``drafts/a.md`` deleted with its folder, then a file ``drafts`` made: the file
    cannot come back (the manifest would hold a file and a folder of one name, which
    no device can write), so ``--version`` refuses it and ``--at`` leaves it."""
    alice, _ = pair
    make_share([alice])
    alice.start()
    (alice.folder / "drafts").mkdir()
    (alice.folder / "drafts" / "a.md").write_text(NOTES)
    wait_for(lambda: _has_versions(alice, "drafts/a.md", 1), "a version of drafts/a.md")
    then = time.time()
    shutil.rmtree(alice.folder / "drafts")
    wait_for(lambda: _recorded(alice, 1), "the deletion recorded")
    (alice.folder / "drafts").write_text(C)
    wait_for(lambda: _has_versions(alice, "drafts", 1), "the file drafts taken in")

    refused = cli(alice.home, "restore", str(alice.folder / "drafts" / "a.md"), "--version",
                  "1", check=False)  # fmt: skip
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.count("\n") == 1
    assert "drafts is a file now" in refused.stderr
    at = json.loads(cli(alice.home, "restore", str(alice.folder), "--at",
                        datetime.fromtimestamp(then).isoformat(), "--json").stdout)  # fmt: skip
    rows = {row["path"]: row for row in at["files"]}
    assert rows["drafts/a.md"]["result"] == "left"
    assert "drafts is a file now" in rows["drafts/a.md"]["reason"]
    assert _file(alice, "drafts") == C
    assert [f["path"] for f in _deleted(alice)["files"]] == ["drafts/a.md"]  # still deleted
    assert all(not share["not_in_sync"] for share in alice.status()["shares"])


FOLDER_FILES = 1000


@pytest.mark.slow
@pytest.mark.timeout(900)  # two daemons syncing 1,000 files, three times, on a busy machine
def test_a_deleted_folder_of_1000_files_comes_back_with_its_content(
    linked: list[Device],
) -> None:
    alice, bob = linked
    texts = {
        f"big/{n // 100}/file-{n}.md": f"file {n}\nline two of {n}\n" for n in range(FOLDER_FILES)
    }
    for name, text in texts.items():
        (alice.folder / name).parent.mkdir(parents=True, exist_ok=True)
        (alice.folder / name).write_text(text)
    wait_for(lambda: _count(bob) == FOLDER_FILES, "the folder at bob", deadline_s=240)
    wait_for(lambda: bob.status()["state"] == "up-to-date", "bob in sync", deadline_s=120)

    shutil.rmtree(alice.folder / "big")
    wait_for(lambda: _count(bob) == 0, "the folder gone at bob", deadline_s=240)
    wait_for(partial(_recorded, bob, FOLDER_FILES), "every deletion recorded", deadline_s=240)
    assert [(f["path"], f["files"]) for f in _deleted(bob)["folders"]] == [("big", FOLDER_FILES)]

    at = cli(bob.home, "restore", str(bob.folder / "big"), "--at", "1w", "--json")
    results = [f["result"] for f in json.loads(at.stdout)["files"]]
    assert results.count("left") == FOLDER_FILES  # a week ago none of them existed
    restored = cli(bob.home, "restore", str(bob.folder / "big"), "--at",
                   datetime.fromtimestamp(time.time()).isoformat(), "--json")  # fmt: skip
    results = [f["result"] for f in json.loads(restored.stdout)["files"]]
    assert results.count("left") == FOLDER_FILES  # now they are deleted: left so
    back = cli(bob.home, "restore", str(bob.folder / "big"), "--at",
               datetime.fromtimestamp(_just_before_deletions(bob)).isoformat())  # fmt: skip
    assert f"{FOLDER_FILES} restored" in back.stdout
    for device in linked:
        for name, text in texts.items():
            wait_for(partial(_holds, device, name, text), f"{name} at {device.home.name}")
    assert not _deleted(alice)["files"]


def _count(device: Device) -> int:
    """The .md files under big/ (-1 while the mirror removes folders under the walk)."""
    try:
        return sum(1 for _ in (device.folder / "big").rglob("*.md"))
    except FileNotFoundError:
        return -1


def _just_before_deletions(device: Device) -> float:
    """A time after every file's last text and before the first deletion."""
    files = _deleted(device)["files"]
    return float(min(f["deleted"] for f in files)) - 1e-3
