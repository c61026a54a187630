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


def _refused(device: Device, *args: str) -> str:
    """The one sentence ``p2psync ARGS`` is refused with (exit 2)."""
    result = cli(device.home, *args, check=False)
    assert result.returncode == 2, (args, result)
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


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
