"""``share remove`` of a share that is being edited on both devices, with its peer
linked (real daemons): the share stops in order before the command returns (its index
saved clean), the daemon keeps running, and the share can be added again and syncs."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from p2psync.daemon.indexkeeper import RUNNING_FILE_NAME
from p2psync.storage.layout import marker_dir
from tests.support.daemons import Device, cli, link, make_share, setup, wait_for

FILES = 60


def keep_editing(folder: Path, done: threading.Event, tag: str) -> threading.Thread:
    """Rewrite the share's files one after another until ``done`` (another program)."""

    def edit() -> None:
        i = 0
        while not done.is_set():
            (folder / f"f{i % FILES}.txt").write_text(f"{tag} edit {i}\n")
            i += 1
            done.wait(0.003)

    thread = threading.Thread(target=edit, daemon=True)
    thread.start()
    return thread


def test_share_remove_while_both_ends_edit_stops_the_share_in_order(tmp_path: Path) -> None:
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    try:
        alice.folder.mkdir()
        for i in range(FILES):
            (alice.folder / f"f{i}.txt").write_text(f"file {i}\n")
        share = make_share([alice, bob])
        alice.start()
        bob.start()
        link([alice, bob])
        wait_for((bob.folder / f"f{FILES - 1}.txt").exists, "the files at bob", 60)
        done = threading.Event()
        editors = [keep_editing(alice.folder, done, "alice"), keep_editing(bob.folder, done, "bob")]
        wait_for(lambda: "bob edit" in (alice.folder / "f0.txt").read_text(), "bob's edits")
        removed = cli(alice.home, "share", "remove", share, check=False)
        done.set()
        for editor in editors:
            editor.join()
        assert removed.returncode == 0, removed.stderr
        assert not (marker_dir(alice.folder) / RUNNING_FILE_NAME).exists()  # stopped in order
        assert alice.process is not None
        assert alice.process.poll() is None
        assert share not in [s["id"] for s in alice.status()["shares"]]
        setup(alice.home, "share", "add", str(alice.folder), "--id", share)
        setup(alice.home, "share", "member", "add", share, bob.id)
        (bob.folder / "after.txt").write_text("after the re-add\n")
        wait_for((alice.folder / "after.txt").exists, "a file synced after the re-add")
        assert alice.process.poll() is None
        assert "Traceback" not in (alice.home / "daemon.log").read_text()
    finally:
        for device in (alice, bob):
            device.stop(signal.SIGKILL)
