"""``restore DIR --at TIME`` brings binary files back too, across two real daemons
(issue 18): an edited picture returns to its bytes then and a deleted one comes back,
each as a new save synced to the peer; an app doc under the folder is left, saying
why."""

from __future__ import annotations

import json
import time
from datetime import datetime

from tests.support.boards import board, cards_in
from tests.support.daemons import Device, cli, link, make_share, wait_for
from tests.support.history import versions
from tests.support.mirror import holds

A1 = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
A2 = A1[:50] + b"\x00edited by bob\x00" + A1[50:]
B1 = b"GIF89a\x00\x01" + bytes(range(255, -1, -1)) * 3


def _recorded_deletion(device: Device, name: str) -> bool:
    found = versions(device, name)
    return bool(found) and found[0]["kind"] == "delete"


def test_a_folder_at_a_time_brings_back_edited_and_deleted_binary_files(
    pair: list[Device],
) -> None:
    alice, bob = pair
    make_share(pair)
    (alice.folder / "pics").mkdir()
    (alice.folder / "pics" / "a.png").write_bytes(A1)
    (alice.folder / "pics" / "b.gif").write_bytes(B1)
    (alice.folder / "pics" / "board.ydoc").write_bytes(board(11, a=1))
    for device in pair:
        device.start()
    link(pair)
    for name, data in (("a.png", A1), ("b.gif", B1)):
        wait_for(holds(bob.folder / "pics" / name, data), f"{name} at bob")
        for device in pair:
            wait_for(lambda d=device, n=name: len(versions(d, f"pics/{n}")) == 1,  # type: ignore[misc]
                     f"a version of {name} at {device.home.name}")  # fmt: skip
    wait_for(lambda: cards_in(bob.folder / "pics" / "board.ydoc") == {"a": 1}, "the board at bob")
    then = time.time()

    (bob.folder / "pics" / "a.png").write_bytes(A2)
    (bob.folder / "pics" / "b.gif").unlink()
    wait_for(holds(alice.folder / "pics" / "a.png", A2), "bob's edit at alice")
    wait_for(lambda: len(versions(alice, "pics/a.png")) == 2, "bob's edit as a version")
    for device in pair:
        wait_for(lambda d=device: _recorded_deletion(d, "pics/b.gif"),  # type: ignore[misc]
                 f"the deletion in {device.home.name}'s history")  # fmt: skip
    listed = json.loads(cli(alice.home, "history", "--deleted", str(alice.folder), "--json").stdout)
    (gif,) = listed[0]["files"]
    assert (gif["path"], gif["last_version"]["size"]) == ("pics/b.gif", len(B1))

    at = cli(alice.home, "restore", str(alice.folder / "pics"), "--at",
             datetime.fromtimestamp(then).isoformat(), "--json")  # fmt: skip
    rows = {row["path"]: row for row in json.loads(at.stdout)["files"]}
    assert {p: r["result"] for p, r in rows.items()} == {
        "pics/a.png": "restored",
        "pics/b.gif": "restored",
        "pics/board.ydoc": "left",
    }
    assert "app doc" in rows["pics/board.ydoc"]["reason"]
    for device in pair:
        for name, data in (("a.png", A1), ("b.gif", B1)):
            wait_for(holds(device.folder / "pics" / name, data),
                     f"{name} as it was at {device.home.name}")  # fmt: skip
    assert versions(alice, "pics/a.png")[0]["kind"] == "restore"
    wait_for(lambda: versions(bob, "pics/a.png")[0]["device"] == alice.id, "the restore at bob")
    assert cards_in(alice.folder / "pics" / "board.ydoc") == {"a": 1}
