"""Creates, renames, deletes, modes, links, ignores and hostile paths between daemons."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pycrdt

from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID, Entry, put_entry
from p2psync.storage import append_update
from p2psync.storage.layout import log_path
from tests.support.daemons import Device, wait_for
from tests.support.mirror import holds, live_entries, read
from tests.support.probes import pause, resume, synced_file, wait_saved

Share = Callable[..., list[Device]]


def test_rename_on_one_side_while_the_other_edits(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob")
    synced_file([alice, bob], "draft.md", "a draft\n")
    (alice.folder / "docs").mkdir()
    synced_file([alice, bob], "docs/keep.md", "kept\n")
    pause([alice, bob])
    (alice.folder / "draft.md").rename(alice.folder / "final.md")
    (alice.folder / "docs").rename(alice.folder / "papers")
    (bob.folder / "draft.md").write_text("a draft\nedited by bob\n")
    wait_saved(bob, "draft.md", "a draft\nedited by bob\n")
    wait_for(lambda: live_entries(alice, "final.md") != [], "alice's rename")
    wait_for(lambda: live_entries(alice, "papers/keep.md") != [], "alice's folder rename")
    resume([alice, bob])
    for device in (alice, bob):
        wait_for(holds(device.folder / "final.md", b"a draft\nedited by bob\n"),
                 f"the renamed, edited file at {device.home.name}")  # fmt: skip
        wait_for(holds(device.folder / "papers/keep.md", b"kept\n"), "folder rename")
        wait_for(holds(device.folder / "draft.md", None), "the old name gone")
        wait_for(holds(device.folder / "docs", None), "the old folder gone")


def test_delete_and_concurrent_edit_keep_the_edited_file(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob")
    synced_file([alice, bob], "plan.md", "plan\n")
    synced_file([alice, bob], "gone.md", "bye\n")
    pause([alice, bob])
    (alice.folder / "plan.md").unlink()
    (bob.folder / "plan.md").write_text("plan\nstill needed\n")
    wait_for(lambda: live_entries(alice, "plan.md") == [], "alice's delete")
    wait_saved(bob, "plan.md", "plan\nstill needed\n")
    resume([alice, bob])
    (alice.folder / "gone.md").unlink()
    wait_for(lambda: not (bob.folder / "gone.md").exists(), "a plain delete at bob")
    for device in (alice, bob):
        wait_for(holds(device.folder / "plan.md", b"plan\nstill needed\n"),
                 f"the edited file at {device.home.name}")  # fmt: skip


def test_empty_files_exec_bits_links_and_ignores(share_of: Share, tmp_path: Path) -> None:
    alice, bob = share_of("alice", "bob")
    (alice.folder / ".p2psyncignore").write_text("*.log\nbuild/\n")
    wait_for((bob.folder / ".p2psyncignore").exists, "the ignore file at bob")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    (alice.folder / "link.txt").symlink_to(outside)
    (alice.folder / "run.log").write_text("ignored\n")
    (alice.folder / "notes.md.swp").write_text("vim swap\n")
    (alice.folder / "build").mkdir()
    (alice.folder / "build" / "out.txt").write_text("ignored folder\n")
    (alice.folder / "empty.txt").write_bytes(b"")
    script = alice.folder / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    wait_for(lambda: read(bob.folder / "run.sh") == b"#!/bin/sh\necho hi\n", "the script")
    wait_for(lambda: read(bob.folder / "empty.txt") == b"", "the empty file")
    assert (bob.folder / "run.sh").stat().st_mode & 0o100
    assert not (bob.folder / "empty.txt").stat().st_mode & 0o100
    for name in ("link.txt", "run.log", "notes.md.swp", "build/out.txt"):
        assert not os.path.lexists(bob.folder / name), name
    assert "symlink" in (alice.home / "daemon.log").read_text()


def hostile_manifest_update(names: list[str]) -> bytes:
    doc: pycrdt.Doc[pycrdt.Map[object]] = pycrdt.Doc(client_id=4242)
    with doc.transaction():
        for number, name in enumerate(names):
            entry = Entry(f"f:evil{number}", name, FileKind.TEXT, Timestamp(1, 0, b"m"))
            put_entry(doc, entry)
    return doc.get_update()


def test_hostile_manifest_paths_write_nothing_outside_the_share(
    share_of: Share, tmp_path: Path
) -> None:
    alice, bob = share_of("alice", "bob")
    names = ["../escaped.txt", "/tmp/p2psync-escaped.txt", "a\x00b", f"{tmp_path}/abs.txt",
             ".p2psync/docs/x", "sub/../../up.txt", "ok/fine.txt"]  # fmt: skip
    # Content docs for every entry, so only the path check stands in the way.
    for number in range(len(names)):
        doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=4300 + number)
        doc.get("content", type=pycrdt.Text).insert(0, "evil\n")
        append_update(log_path(bob.folder, f"f:evil{number}"), doc.get_update())
    append_update(log_path(bob.folder, MANIFEST_GUID), hostile_manifest_update(names))
    wait_for(lambda: read(alice.folder / "ok/fine.txt") == b"evil\n", "the one safe entry")
    before = {p for p in tmp_path.rglob("*") if ".p2psync" not in p.parts}
    assert not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/p2psync-escaped.txt").exists()
    assert not (tmp_path / "abs.txt").exists()
    assert not (tmp_path / "up.txt").exists()
    log = (alice.home / "daemon.log").read_text()
    assert log.count("unsafe-path") >= 5
    shared = {
        p.relative_to(alice.folder).as_posix() for p in alice.folder.rglob("*") if p.is_file()
    }
    assert {p for p in shared if not p.startswith(".p2psync/")} == {"ok/fine.txt"}
    assert before == {p for p in tmp_path.rglob("*") if ".p2psync" not in p.parts}


def test_a_folder_that_loses_its_marker_stops_instead_of_deleting(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob")
    synced_file([alice, bob], "precious.md", "do not delete\n")
    # The disk is unmounted: the share's path is an empty folder now.
    alice.folder.rename(alice.folder.with_name("alice-share-unmounted"))
    alice.folder.mkdir()
    (bob.folder / "precious.md").write_text("do not delete\nstill here\n")
    wait_for(lambda: "no .p2psync marker" in (alice.home / "daemon.log").read_text(), "the stop")
    assert "stopped" in alice.status()["shares"][-1]
    wait_saved(bob, "precious.md", "do not delete\nstill here\n")
    (bob.folder / "other.md").write_text("after the stop\n")
    wait_saved(bob, "other.md", "after the stop\n")
    assert list(alice.folder.iterdir()) == []  # nothing written into the empty mount point
    assert read(bob.folder / "precious.md") == b"do not delete\nstill here\n"
    assert bob.text("precious.md") == "do not delete\nstill here\n"


def test_whole_files_last_writer_wins_and_the_loser_is_kept(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob")
    image = bytes(range(256)) * 4  # not UTF-8: synced whole
    (alice.folder / "photo.bin").write_bytes(image)
    wait_for(holds(bob.folder / "photo.bin", image), "the binary file at bob")
    pause([alice, bob])
    (bob.folder / "photo.bin").write_bytes(b"\xffbob's edit" + image)
    wait_for(lambda: b"bob" in (bob.export("photo.bin") or b""), "bob's version stored")
    (alice.folder / "photo.bin").write_bytes(b"\xffalice's edit" + image)  # later: wins
    wait_for(lambda: b"alice" in (alice.export("photo.bin") or b""), "alice's version stored")
    resume([alice, bob])
    winner = b"\xffalice's edit" + image
    for device in (alice, bob):
        wait_for(holds(device.folder / "photo.bin", winner), f"the winner at {device.home.name}")
    kept = [p.read_bytes() for d in (alice, bob) for p in d.folder.glob(".p2psync/conflicts/*")]
    assert b"\xffbob's edit" + image in kept
    wait_for(
        lambda: (
            "lost to a later one" in (alice.home / "daemon.log").read_text()
            or "lost to a later one" in (bob.home / "daemon.log").read_text()
        ),
        "the conflict reported",
    )
