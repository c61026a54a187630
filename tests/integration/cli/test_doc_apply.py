"""A refused ``doc apply`` leaves nothing on disk, with a daemon or without; ``doctor``
finds and ``doctor --repair`` removes the empty logs older versions left behind, and a
daemon removes at start those a crash left."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import ControlError
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.storage import DocLog, append_update
from p2psync.storage.layout import docs_dir, log_path
from tests.support.daemons import Device, cli

GARBAGE = bytes([0x41]) + random.Random(7).randbytes(199)
"""200 bytes that are no Yjs update (a non-zero first byte: not taken for a v2 one)."""


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (its ``.p2psync`` included) and its bytes, but the
    persisted index, which a running daemon writes on its own timer."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not _is_index(path)
    }


def _is_index(path: Path) -> bool:
    return path.parent.name == ".p2psync" and path.name.startswith("index.")


def manifest_log(device: Device) -> Path:
    return log_path(device.folder.resolve(), MANIFEST_GUID)


def refuse_garbage(device: Device) -> None:
    """``doc apply`` of GARBAGE to a new doc: exit 2, one sentence, no file changed."""
    update = device.home / "garbage.bin"
    update.write_bytes(GARBAGE)
    before = files_under(device.folder)
    result = cli(
        device.home, "doc", "apply", str(device.folder / "new.md"), str(update), check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("p2psync: ")
    assert "not a Yjs v1 update" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert files_under(device.folder) == before
    assert not log_path(device.folder.resolve(), "new.md").exists()


def test_refused_apply_without_a_daemon_creates_nothing(tmp_path: Path) -> None:
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    refuse_garbage(device)
    device.apply_text("notes.md", "kept\n", client_id=5)
    log = log_path(device.folder.resolve(), "notes.md")
    kept = log.read_bytes()
    update = device.home / "garbage.bin"
    result = cli(
        device.home, "doc", "apply", str(device.folder / "notes.md"), str(update), check=False
    )
    assert result.returncode == 2
    assert log.read_bytes() == kept  # an existing doc's log gains no junk record either


def test_refused_apply_with_a_daemon_creates_nothing(tmp_path: Path) -> None:
    device = Device(tmp_path, "a")
    share = cli(device.home, "share", "add", str(device.folder), "--create").stdout.strip()
    device.start()
    try:
        refuse_garbage(device)
        # The daemon refuses on its own too (any control API client, not just the CLI).
        before = files_under(docs_dir(device.folder))
        encoded = base64.b64encode(GARBAGE).decode()
        with (
            ControlClient(Home.resolve(device.home).socket_path) as client,
            pytest.raises(ControlError, match="not a Yjs v1 update"),
        ):
            client.call("doc.apply", share=share, doc="other.md", update=encoded)
        assert files_under(docs_dir(device.folder)) == before
        assert not log_path(device.folder.resolve(), "other.md").exists()
        assert device.export("new.md") is None  # the daemon holds no such doc either
    finally:
        device.stop()


def test_doctor_reports_and_repair_removes_a_leftover_empty_log(tmp_path: Path) -> None:
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    device.apply_text("notes.md", "kept\n", client_id=5)
    leftover = log_path(device.folder.resolve(), "new-garbage.md")
    DocLog.open(leftover).log.close()  # what a refused apply left before: a header only
    healthy = {p: p.read_bytes() for p in docs_dir(device.folder).glob("*.ylog") if p != leftover}

    found = cli(device.home, "doctor", "--json", check=False)
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["damaged"] == 1
    [entry] = [e for e in report["logs"] if e["state"] != "ok"]
    assert (entry["doc"], entry["state"], entry["repaired"]) == (
        "new-garbage.md",
        "leftover",
        False,
    )
    assert leftover.exists()  # read-only without --repair

    repaired = cli(device.home, "doctor", "--repair")
    assert "removed" in repaired.stdout
    assert "new-garbage.md" in repaired.stdout
    assert not leftover.exists()
    assert {p: p.read_bytes() for p in healthy} == healthy  # nothing else touched
    after = cli(device.home, "doctor")
    assert "all healthy" in after.stdout


def test_doctor_reports_an_unnamed_doc_and_keeps_it(tmp_path: Path) -> None:
    # What a kill between a new file's first append and its manifest entry leaves.
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, "taken in, then killed\n")
    unnamed = log_path(device.folder.resolve(), "f:" + "ab" * 16)
    unnamed.parent.mkdir(parents=True, exist_ok=True)
    append_update(unnamed, doc.get_update())
    held = unnamed.read_bytes()

    for repair in ((), ("--repair",)):
        found = cli(device.home, "doctor", "--json", *repair)  # exit 0: no damage
        report = json.loads(found.stdout)
        assert report["damaged"] == 0
        [entry] = [e for e in report["logs"] if e["state"] != "ok"]
        assert (entry["doc"], entry["state"], entry["repaired"]) == (
            "f:" + "ab" * 16,
            "unnamed",
            False,
        )
        assert unnamed.read_bytes() == held  # kept, by --repair too
    said = cli(device.home, "doctor").stdout
    assert "unnamed" in said
    assert "0 damaged" in said


def emptied_named_log(device: Device) -> Path:
    """A share of ``device`` holding one empty file, synced by a daemon run, then its
    doc's log emptied (a header only) while the manifest still names the doc."""
    cli(device.home, "share", "add", str(device.folder), "--create")
    (device.folder / "empty.txt").write_bytes(b"")
    device.start()  # the mirror gives the file a doc and a manifest entry
    try:
        cli(device.home, "wait-idle", "--timeout", "30")
    finally:
        device.stop()
    logs = docs_dir(device.folder.resolve()).glob("*.ylog")
    [named] = [p for p in logs if p != manifest_log(device)]
    named.unlink()
    DocLog.open(named).log.close()
    return named


def test_doctor_keeps_an_empty_log_the_manifest_names(tmp_path: Path) -> None:
    device = Device(tmp_path, "a")
    named = emptied_named_log(device)
    result = cli(device.home, "doctor", "--repair", "--json")
    report = json.loads(result.stdout)
    assert report["damaged"] == 0
    assert all(e["state"] == "ok" and not e["repaired"] for e in report["logs"])
    assert named.exists()


def test_doctor_repair_leaves_a_leftover_to_a_stopped_daemon(tmp_path: Path) -> None:
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    # A doc no file can have (its guid is no safe share path): the mirror never adopts
    # it into the manifest, so it stays a leftover while the daemon runs.
    leftover = log_path(device.folder.resolve(), "../outside")
    leftover.parent.mkdir(parents=True, exist_ok=True)
    device.start()  # made after the start: a start removes the leftovers it finds
    try:
        DocLog.open(leftover).log.close()
        kept = cli(device.home, "doctor", "--repair", check=False)
        assert kept.returncode == 1
        assert "stop the daemon to remove it" in kept.stdout
        assert leftover.exists()  # the running daemon would write it again
    finally:
        device.stop()
    removed = cli(device.home, "doctor", "--repair", "--json")
    [entry] = [e for e in json.loads(removed.stdout)["logs"] if e["doc"] == "../outside"]
    assert (entry["state"], entry["repaired"]) == ("leftover", True)
    assert not leftover.exists()


def test_a_start_removes_the_empty_logs_a_crash_left_and_keeps_every_other(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, "a")
    named_empty = emptied_named_log(device)
    root = device.folder.resolve()
    device.apply_text("notes.md", "kept\n", client_id=5)
    chunk = log_path(root, "c:" + "ab" * 16)  # chunks are named by their file's doc
    leftovers = [log_path(root, f"new-{n}.md") for n in range(3)]
    for path in (chunk, *leftovers):
        DocLog.open(path).log.close()  # a kill between creating a log and its append
    leftovers[2].write_bytes(leftovers[2].read_bytes()[:5])  # ... or inside its header
    kept = [p for p in docs_dir(root).glob("*.ylog") if p not in leftovers]

    device.start()
    try:
        cli(device.home, "wait-idle", "--timeout", "30")
        assert not any(p.exists() for p in leftovers)
        assert all(p.exists() for p in kept)
        assert named_empty in kept
        assert chunk in kept
        assert device.text("notes.md") == "kept\n"
    finally:
        device.stop()
    report = json.loads(cli(device.home, "doctor", "--json").stdout)
    assert report["damaged"] == 0
