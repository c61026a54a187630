"""A text file whose share path is longer than a doc named by its path may be (150
bytes) syncs like any other, under a doc of its own: ``doc export``, ``doc apply`` and
``doc url`` reach it by its path, with the daemon running and without it."""

from __future__ import annotations

from pathlib import Path

import pycrdt

from p2psync.errors import ControlError
from p2psync.storage.layout import MAX_GUID_BYTES
from tests.support.daemons import Device, cli, wait_for


def test_a_file_with_a_long_path_is_reached_by_the_doc_commands(tmp_path: Path) -> None:
    device = Device(tmp_path, "a")
    folder = device.folder / "/".join(["a-folder-name-of-forty-characters-long-x"] * 4)
    folder.mkdir(parents=True)
    notes = folder / "notes.txt"
    notes.write_text("first line\n")
    assert len(notes.relative_to(device.folder).as_posix().encode()) > MAX_GUID_BYTES
    share = cli(device.home, "share", "add", str(device.folder)).stdout.strip()
    device.start()
    try:
        wait_for(lambda: has_versions(device, share, notes), "the file taken in")
        assert exported_text(device, notes) == "first line\n"
        assert cli(device.home, "doc", "url", str(notes)).stdout.startswith("ws://127.0.0.1:")
        update = device.home / "update.bin"
        update.write_bytes(insert_at_start(device, notes, "applied\n"))
        cli(device.home, "doc", "apply", str(notes), str(update))
        wait_for(lambda: notes.read_text() == "applied\nfirst line\n", "the update in the file")
    finally:
        device.stop()
    assert exported_text(device, notes) == "applied\nfirst line\n"  # no daemon: from the log


def has_versions(device: Device, share: str, file: Path) -> bool:
    """Whether ``file`` has a version in the daemon's history: it was taken in."""
    try:
        rel = file.relative_to(device.folder).as_posix()
        return bool(device.ask("history", share=share, doc=rel)["versions"])
    except ControlError:  # not taken in yet: no file of the share
        return False


def exported_text(device: Device, file: Path) -> str:
    """The text of ``file``'s doc as ``doc export`` writes it."""
    out = device.home / "export.bin"
    cli(device.home, "doc", "export", str(file), "-o", str(out))
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.apply_update(out.read_bytes())
    return str(doc.get("content", type=pycrdt.Text))


def insert_at_start(device: Device, file: Path, text: str) -> bytes:
    """An update inserting ``text`` at the start of ``file``'s doc, made on its export."""
    out = device.home / "base.bin"
    cli(device.home, "doc", "export", str(file), "-o", str(out))
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=77)
    doc.apply_update(out.read_bytes())
    state = doc.get_state()
    doc.get("content", type=pycrdt.Text).insert(0, text)
    return doc.get_update(state)


def test_a_new_file_with_a_long_path_is_refused_in_one_sentence(tmp_path: Path) -> None:
    # A file that does not exist yet would get a doc named by its path, which cannot be
    # that long: doc apply says what to do instead, and doc export that it has no doc.
    device = Device(tmp_path, "a")
    device.folder.mkdir()
    cli(device.home, "share", "add", str(device.folder))
    new = device.folder / "/".join(["a-folder-name-of-forty-characters-long-x"] * 4) / "new.txt"
    update = device.home / "update.bin"
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=5)
    doc.get("content", type=pycrdt.Text).insert(0, "text")
    update.write_bytes(doc.get_update())
    for args, words in [
        (("apply", str(new), str(update)), "create the file, then apply the update"),
        (("export", str(new)), "has no document yet"),
    ]:
        result = cli(device.home, "doc", *args, check=False)
        assert result.returncode == 2, result.stderr
        assert words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(p.name for p in device.folder.iterdir()) == [".p2psync"]
