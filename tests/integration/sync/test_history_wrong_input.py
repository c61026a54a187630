"""Wrong input to ``history`` and ``restore`` on a real daemon (docs/history.md): a
file where a folder is meant, the name a renamed file had, a damaged history file.
Each gets one sentence and its documented exit code, or does what the docs say, and
changes no file."""

from __future__ import annotations

import json

import pytest

from tests.support.daemons import Device, cli, make_share, wait_for
from tests.support.history import FIRST, SECOND
from tests.support.history import versions as _versions


@pytest.fixture
def alice(pair: list[Device]) -> Device:
    """alice alone with a share, her daemon running."""
    device = pair[0]
    make_share([device])
    device.start()
    return device


def _share(device: Device) -> str:
    """The ID of the share of ``device``'s folder."""
    (share,) = [s for s in device.ask("status")["shares"] if s["path"] == str(device.folder)]
    return str(share["id"])


def _refused(device: Device, *args: str) -> str:
    """The one sentence ``p2psync ARGS`` is refused with (exit 2)."""
    result = cli(device.home, *args, check=False)
    assert result.returncode == 2, (args, result)
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def _text(device: Device, name: str) -> str:
    return (device.folder / name).read_text()


def _saved(device: Device, name: str, text: str, count: int) -> None:
    """Write ``name`` and wait for its ``count``-th version."""
    (device.folder / name).parent.mkdir(parents=True, exist_ok=True)
    (device.folder / name).write_text(text)
    wait_for(lambda: len(_versions(device, name)) == count, f"version {count} of {name}")


def test_history_deleted_of_a_file_or_of_no_folder_is_refused(alice: Device) -> None:
    _saved(alice, "notes.md", FIRST, 1)
    _saved(alice, "gone/old.md", SECOND, 1)
    _saved(alice, "kept/a.md", FIRST, 1)
    (alice.folder / "gone" / "old.md").unlink()
    (alice.folder / "gone").rmdir()
    wait_for(lambda: _versions(alice, "gone/old.md")[0]["kind"] == "delete", "the deletion")

    live = alice.folder / "notes.md"
    assert f"{live} is a file, not a folder" in _refused(alice, "history", "--deleted", str(live))
    deleted = alice.folder / "gone" / "old.md"  # a deleted file: its own history lists it
    said = _refused(alice, "history", "--deleted", str(deleted))
    assert f"{deleted} is a file, not a folder" in said
    assert f"p2psync history {deleted}" in said
    nowhere = alice.folder / "never"
    said = _refused(alice, "history", "--deleted", str(nowhere))
    assert f"{nowhere} is not a folder of share" in said

    # A deleted folder, and a folder with no deleted file, are folders.
    listed = cli(alice.home, "history", "--deleted", str(alice.folder / "gone"), "--json")
    assert [f["path"] for f in json.loads(listed.stdout)[0]["files"]] == ["gone/old.md"]
    empty = cli(alice.home, "history", "--deleted", str(alice.folder / "kept"))
    assert empty.stdout == "No deleted files.\n"


def test_restore_at_of_one_file_brings_that_file_back_as_it_was(alice: Device) -> None:
    _saved(alice, "notes.md", FIRST, 1)
    _saved(alice, "other.md", FIRST, 1)
    then = _versions(alice, "notes.md")[0]["time"]
    _saved(alice, "notes.md", SECOND, 2)
    _saved(alice, "other.md", SECOND, 2)

    at = str(then + 1e-3)  # ISO-8601 only has seconds: the time as restore.at takes it
    reply = alice.ask("restore.at", share=_share(alice), dir="notes.md", time=float(at))
    assert [(f["path"], f["version"], f["result"]) for f in reply["files"]] == [
        ("notes.md", 1, "restored")
    ]
    wait_for(lambda: _text(alice, "notes.md") == FIRST, "the restore on disk")
    assert _text(alice, "other.md") == SECOND  # only the file named
    _saved(alice, "notes.md", SECOND, 4)

    # The command does the same with a file's path (it refused a file on disk).
    shown = cli(alice.home, "restore", str(alice.folder / "notes.md"), "--at", "0s")
    assert "1 already as then" in shown.stdout
    (alice.folder / "notes.md").unlink()
    wait_for(lambda: _versions(alice, "notes.md")[0]["kind"] == "delete", "the deletion")
    back = cli(alice.home, "restore", str(alice.folder / "notes.md"), "--at", "1h", "--json")
    assert [f["result"] for f in json.loads(back.stdout)["files"]] == ["left"]  # none that old
    wait_for(lambda: len(_versions(alice, "notes.md")) == 5, "the deletion's version")
    when = str(_versions(alice, "notes.md")[1]["time"] + 1e-3)
    came = alice.ask("restore.at", share=_share(alice), dir="notes.md", time=float(when))
    assert [f["result"] for f in came["files"]] == ["restored"]
    assert _text(alice, "notes.md") == SECOND  # a deleted file is written before the reply
    assert _text(alice, "other.md") == SECOND

    said = _refused(alice, "restore", str(alice.folder / "never.md"), "--at", "1m")
    assert "has no file at or under never.md" in said


def test_the_history_of_a_renamed_files_old_name_says_where_it_went(alice: Device) -> None:
    _saved(alice, "draft.md", FIRST, 1)
    (alice.folder / "draft.md").rename(alice.folder / "final.md")
    wait_for(lambda: len(_versions(alice, "final.md")) == 2, "the rename in the history")
    said = _refused(alice, "history", str(alice.folder / "draft.md"))
    assert "has no file 'draft.md': it was renamed to 'final.md', and its history goes on" in said
    said = _refused(alice, "restore", str(alice.folder / "draft.md"), "--version", "1")
    assert "it was renamed to 'final.md'" in said

    # Renamed again: each old name leads to where the file is now.
    (alice.folder / "final.md").rename(alice.folder / "last.md")
    wait_for(lambda: len(_versions(alice, "last.md")) == 3, "the second rename")
    for old in ("draft.md", "final.md"):
        assert "it was renamed to 'last.md'" in _refused(alice, "history", str(alice.folder / old))
    (alice.folder / "last.md").unlink()
    wait_for(lambda: _versions(alice, "last.md")[0]["kind"] == "delete", "the deletion")
    said = _refused(alice, "history", str(alice.folder / "draft.md"))
    assert "it was renamed to 'last.md' (deleted since)" in said
    assert "has no file 'never.md'\n" in _refused(alice, "history", str(alice.folder / "never.md"))
    assert not (alice.folder / "last.md").exists()  # nothing restored


def test_a_damaged_history_file_is_told_by_history_and_doctor_and_saves_go_on(
    alice: Device,
) -> None:
    _saved(alice, "notes.md", FIRST, 1)
    _saved(alice, "notes.md", SECOND, 2)
    (timeline,) = (alice.folder / ".p2psync" / "docs").glob("*.ylog.versions")
    alice.stop()
    damaged = timeline.read_bytes()[:-7]  # cut short
    timeline.write_bytes(damaged)
    assert _doctor(alice, "corrupt") == 1
    alice.start()

    said = cli(alice.home, "history", str(alice.folder / "notes.md"), check=False)
    assert said.returncode == 4, said
    assert said.stderr.count("\n") == 1
    assert "the history of notes.md cannot be read (the history file is cut short" in said.stderr
    assert "its content is safe" in said.stderr
    (alice.folder / "notes.md").write_text(FIRST + "a save after the damage\n")
    wait_for(lambda: alice.text("notes.md") == FIRST + "a save after the damage\n", "the save")
    assert timeline.read_bytes() == damaged  # refused, never emptied

    repaired = cli(alice.home, "doctor", "--repair", str(alice.folder), "--json")
    (row,) = json.loads(repaired.stdout)["histories"]
    assert (row["state"], row["repaired"]) == ("corrupt", True)
    assert not timeline.exists()
    (alice.folder / "notes.md").write_text(SECOND)
    wait_for(lambda: len(_versions(alice, "notes.md")) == 1, "the history started again")
    assert _doctor(alice, "ok") == 0


def _doctor(device: Device, state: str) -> int:
    """Run ``doctor`` on ``device``'s share, whose one history file is in ``state``."""
    result = cli(device.home, "doctor", str(device.folder), "--json", check=False)
    report = json.loads(result.stdout)
    assert [h["state"] for h in report["histories"]] == [state], report
    if state != "ok":
        human = cli(device.home, "doctor", str(device.folder), check=False).stdout
        assert "the file's past versions cannot be read (its content is safe" in human
    return result.returncode


def test_a_deleted_file_is_not_restored_where_an_empty_folder_is_now(alice: Device) -> None:
    """An empty folder is in no manifest: the restore looks at the disk too, rather
    than bring the file back where the mirror cannot write it (which stopped the
    share: the error's sentence choked on a file descriptor for a name)."""
    _saved(alice, "notes.md", FIRST, 1)
    (alice.folder / "notes.md").unlink()
    wait_for(lambda: _versions(alice, "notes.md")[0]["kind"] == "delete", "the deletion")
    (alice.folder / "notes.md").mkdir()
    said = _refused(alice, "restore", str(alice.folder / "notes.md"), "--version", "1")
    assert "notes.md is a folder now: write the deleted one elsewhere with --to OUT" in said
    then = _versions(alice, "notes.md")[1]["time"] + 1e-3  # before the deletion
    at = alice.ask("restore.at", share=_share(alice), dir="", time=then)
    assert [(f["path"], f["result"]) for f in at["files"]] == [("notes.md", "left")]
    assert "notes.md is a folder now" in at["files"][0]["reason"]
    assert (alice.folder / "notes.md").is_dir()
    (share,) = [s for s in alice.ask("status")["shares"] if s["path"] == str(alice.folder)]
    assert "stopped" not in share
