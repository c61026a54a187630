"""File history across two real daemons: an edit made on one device is a version on
the other, and a restore there is a new edit that keeps a concurrent one (issue 18)."""

from __future__ import annotations

import dataclasses
import queue
import threading
from pathlib import Path
from typing import Any

import pycrdt

from p2psync.config import HistoryConfig, load_config, save_config
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.storage import append_update
from p2psync.storage import format as fmt
from p2psync.storage.layout import docs_dir
from p2psync.storage.timeline import char_changes
from tests.support.daemons import (
    DEADLINE_S,
    Device,
    cli,
    link,
    make_share,
    wait_for,
)
from tests.support.history import FIRST, SECOND
from tests.support.history import file_text as _file
from tests.support.history import versions as _versions

CONCURRENT = "title\n\nsecond draft, worse\n\nfooter by alice\n"
MERGED = "title\n\nfirst draft\n\nfooter by alice\n"


def _connected(device: Device) -> list[str]:
    connected: list[str] = device.status()["shares"][0]["peers_connected"]
    return connected


def test_a_version_made_on_a_is_restored_on_b_and_keeps_a_concurrent_edit(
    pair: list[Device], tmp_path: Path
) -> None:
    alice, bob = pair
    make_share(pair)
    for device in pair:
        device.start()
    link(pair)

    (alice.folder / "notes.md").write_text(FIRST)
    wait_for(lambda: _file(bob, "notes.md") == FIRST, "the first draft at bob")
    wait_for(lambda: len(_versions(bob, "notes.md")) == 1, "a version at bob")
    (alice.folder / "notes.md").write_text(SECOND)
    wait_for(lambda: _file(bob, "notes.md") == SECOND, "the second draft at bob")
    wait_for(lambda: len(_versions(bob, "notes.md")) == 2, "two versions at bob")

    newest, oldest = _versions(bob, "notes.md")  # newest first
    assert (oldest["number"], oldest["kind"], oldest["device"]) == (1, "create", alice.id)
    assert oldest["size"] == len(FIRST.encode())
    assert (newest["number"], newest["kind"], newest["device"]) == (2, "remote change", alice.id)
    assert (newest["added"], newest["removed"]) == char_changes(FIRST, SECOND) != (0, 0)
    mine = _versions(alice, "notes.md")
    assert [(v["kind"], v["device"]) for v in mine] == [("local save", alice.id),
                                                        ("create", alice.id)]  # fmt: skip

    diff = cli(bob.home, "history", str(bob.folder / "notes.md"), "--diff", "1").stdout
    assert "-first draft\n" in diff
    assert "+second draft, worse\n" in diff

    # Compaction keeps the versions (their updates are folded), and so does a restart.
    assert cli(bob.home, "compact", "--json").returncode == 0
    (timeline,) = docs_dir(bob.folder).glob("*.versions")
    log = timeline.with_name(timeline.name.removesuffix(".versions"))
    records = fmt.scan_log(log.read_bytes()).records
    assert records[0].type is fmt.RecordType.SNAPSHOT  # the versions' updates are folded
    bob.stop()
    bob.start()
    link(pair)
    assert [v["number"] for v in _versions(bob, "notes.md")] == [2, 1]

    out = tmp_path / "first.md"
    written = cli(bob.home, "restore", str(bob.folder / "notes.md"), "--version", "1",
                  "--to", str(out))  # fmt: skip
    assert written.returncode == 0
    assert out.read_text() == FIRST
    assert _file(bob, "notes.md") == SECOND  # --to touches nothing in the share
    assert len(_versions(bob, "notes.md")) == 2

    # Alice edits the footer while cut off from bob; bob restores the first draft.
    cli(alice.home, "pause")
    wait_for(lambda: not _connected(bob), "bob to lose alice")
    (alice.folder / "notes.md").write_text(CONCURRENT)
    wait_for(lambda: alice.text("notes.md") == CONCURRENT, "alice's footer in her doc")
    restored = cli(bob.home, "restore", str(bob.folder / "notes.md"), "--version", "1")
    assert "back to version 1" in restored.stdout
    wait_for(lambda: _file(bob, "notes.md") == FIRST, "the restored file at bob")
    assert _versions(bob, "notes.md")[0]["kind"] == "restore"

    cli(alice.home, "resume")
    link(pair)
    wait_for(lambda: _file(alice, "notes.md") == MERGED, "the restore merged at alice")
    wait_for(lambda: _file(bob, "notes.md") == MERGED, "alice's footer merged at bob")
    assert _versions(alice, "notes.md")[0]["kind"] == "remote change"
    assert _versions(alice, "notes.md")[0]["device"] == bob.id


def test_bad_history_requests_exit_with_one_sentence(pair: list[Device], tmp_path: Path) -> None:
    alice, _ = pair
    make_share([alice])
    alice.start()
    (alice.folder / "notes.md").write_text(FIRST)
    wait_for(lambda: len(_versions(alice, "notes.md")) == 1, "a version at alice")

    missing = cli(alice.home, "restore", str(alice.folder / "notes.md"), "--version", "9",
                  check=False)  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "no version 9" in missing.stderr
    outside = cli(alice.home, "history", str(tmp_path / "elsewhere.md"), check=False)
    assert outside.returncode == 2
    assert "not inside a shared folder" in outside.stderr
    bad = cli(alice.home, "history", str(alice.folder / "notes.md"), "--diff", "x", check=False)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert _file(alice, "notes.md") == FIRST

    (alice.folder / "notes.md.tmp").write_text(FIRST)  # never synced: the built-in rules
    ignored = cli(alice.home, "history", str(alice.folder / "notes.md.tmp"), check=False)
    assert ignored.returncode == 2
    assert "is ignored by share" in ignored.stderr
    # A folder where a file is expected: said so, live or deleted.
    (alice.folder / "drafts").mkdir()
    (alice.folder / "drafts" / "a.md").write_text(FIRST)
    wait_for(lambda: len(_versions(alice, "drafts/a.md")) == 1, "a version of drafts/a.md")
    folder = cli(alice.home, "history", str(alice.folder / "drafts"), check=False)
    assert folder.returncode == 2
    assert "is a folder of share" in folder.stderr
    (alice.folder / "drafts" / "a.md").unlink()
    (alice.folder / "drafts").rmdir()
    wait_for(lambda: _versions(alice, "drafts/a.md")[0]["kind"] == "delete", "the deletion")
    gone = cli(alice.home, "restore", str(alice.folder / "drafts"), "--version", "1",
               check=False)  # fmt: skip
    assert gone.returncode == 2
    assert gone.stderr.count("\n") == 1
    assert "is a folder of share" in gone.stderr
    assert "restore FOLDER --at TIME" in gone.stderr


def test_restore_to_refuses_to_overwrite_what_p2psync_keeps(pair: list[Device]) -> None:
    """``--to OUT`` writes a copy: never over a share's log (inside ``.p2psync``) nor
    over this device's config, which it would have replaced without a word; ``-`` is
    standard output."""
    alice, _ = pair
    make_share([alice])
    alice.start()
    (alice.folder / "notes.md").write_text(FIRST)
    wait_for(lambda: len(_versions(alice, "notes.md")) == 1, "a version at alice")
    logs = sorted(docs_dir(alice.folder).glob("*.ylog"))
    kept = [logs[0], alice.home / "config.toml"]
    before = [path.read_bytes() for path in kept]
    for out in kept:
        refused = cli(alice.home, "restore", str(alice.folder / "notes.md"), "--version", "1",
                      "--to", str(out), check=False)  # fmt: skip
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.count("\n") == 1
        assert "write it elsewhere" in refused.stderr
    assert [path.read_bytes() for path in kept] == before
    assert alice.status()["shares"]  # the daemon still runs on its config and logs
    shown = cli(alice.home, "restore", str(alice.folder / "notes.md"), "--version", "1",
                "--to", "-")  # fmt: skip
    assert shown.stdout == FIRST  # standard output: no file named "-"


def test_a_version_not_made_yet_and_one_dropped_are_told_apart(pair: list[Device]) -> None:
    """Version numbers count up and are never reused: one past the newest is not made
    yet, one below it that is not listed was dropped by the share's policy."""
    alice, _ = pair
    make_share([alice])
    path = Home(alice.home).config_path
    config = load_config(path)
    shares = tuple(dataclasses.replace(s, history=HistoryConfig(keep="none"))
                   for s in config.shares)  # fmt: skip
    save_config(path, dataclasses.replace(config, shares=shares))
    alice.start()
    (alice.folder / "notes.md").write_text(FIRST)
    wait_for(lambda: len(_versions(alice, "notes.md")) == 1, "the first version")
    (alice.folder / "notes.md").write_text(SECOND)
    wait_for(lambda: [v["number"] for v in _versions(alice, "notes.md")] == [2],
             "the first version dropped")  # fmt: skip
    dropped = cli(alice.home, "history", str(alice.folder / "notes.md"), "--diff", "1",
                  check=False)  # fmt: skip
    assert dropped.returncode == 2
    assert "version 1 of the file is no longer kept" in dropped.stderr
    later = cli(alice.home, "restore", str(alice.folder / "notes.md"), "--version", "3",
                check=False)  # fmt: skip
    assert later.returncode == 2
    assert "no version 3: its newest is 2" in later.stderr
    assert _file(alice, "notes.md") == SECOND


def test_a_restore_is_announced_as_an_event(pair: list[Device]) -> None:
    alice, _ = pair
    make_share([alice])
    alice.start()
    (alice.folder / "notes.md").write_text(FIRST)
    wait_for(lambda: len(_versions(alice, "notes.md")) == 1, "the first version")
    (alice.folder / "notes.md").write_text(SECOND)
    wait_for(lambda: len(_versions(alice, "notes.md")) == 2, "the second version")

    client = ControlClient(Home.resolve(alice.home).socket_path)
    events: queue.Queue[dict[str, Any]] = queue.Queue()

    def follow() -> None:
        for event in client.events():
            events.put(event)

    threading.Thread(target=follow, daemon=True).start()

    def subscribed() -> bool:  # an event only a live subscription can have seen
        cli(alice.home, "pause")
        cli(alice.home, "resume")
        return not events.empty()

    try:
        wait_for(subscribed, "the subscription")
        cli(alice.home, "restore", str(alice.folder / "notes.md"), "--version", "1")
        seen = events.get(timeout=DEADLINE_S)
        while seen["type"] != "file-restored":
            seen = events.get(timeout=DEADLINE_S)
    finally:
        client.close()
    assert (seen["path"], seen["version"]) == ("notes.md", 1)
    wait_for(lambda: _file(alice, "notes.md") == FIRST, "the restored file")

    # Another program appending to the doc's log is a local save too.
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=7)
    doc.apply_update(alice.export("notes.md") or b"")
    before = doc.get_state()
    doc.get("content", type=pycrdt.Text).insert(0, "# ")
    (timeline,) = docs_dir(alice.folder).glob("*.versions")
    append_update(timeline.with_name(timeline.name.removesuffix(".versions")),
                  doc.get_update(before))  # fmt: skip
    wait_for(lambda: _file(alice, "notes.md") == "# " + FIRST, "the appended edit in the file")
    wait_for(lambda: len(_versions(alice, "notes.md")) == 4, "a version of the append")
    newest = _versions(alice, "notes.md")[0]
    assert (newest["kind"], newest["added"], newest["removed"]) == ("local save", 2, 0)
