"""Real daemons on loopback with a chunked file (small ``[docs] chunked_file_bytes``):
an edit made offline concurrently with a delete brings the file back on both devices,
a plain delete still deletes it, and ``doc export``/``doc apply`` through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from p2psync.control.errorcodes import EXIT_USAGE
from p2psync.storage.layout import docs_dir
from tests.support.chunkeddaemons import CHUNKED_FILE_BYTES, configure
from tests.support.daemons import Device, cli, link, make_share, wait_for
from tests.support.mirror import holds
from tests.support.probes import share_status

pytestmark = pytest.mark.slow


def big_text(tag: str = "") -> str:
    text = "".join(f"line {n:05} {tag}中文 😀\n" for n in range(2_000))
    assert len(text.encode()) > CHUNKED_FILE_BYTES
    return text


def logged(device: Device, line: str) -> bool:
    return line in (device.home / "daemon.log").read_text(errors="replace")


@contextmanager
def running(tmp_path: Path, *names: str) -> Iterator[list[Device]]:
    """Devices sharing one folder with small chunks, started and linked; stopped after."""
    devices = [Device(tmp_path, name) for name in names]
    make_share(devices)
    for device in devices:
        configure(device)
    try:
        for device in devices:
            device.start()
        link(devices)
        yield devices
    finally:
        for device in devices:
            device.stop()


def test_an_offline_edit_concurrent_with_a_delete_brings_a_chunked_file_back(
    tmp_path: Path,
) -> None:
    with running(tmp_path, "alice", "bob") as (alice, bob):
        text = big_text()
        (alice.folder / "big.txt").write_text(text)
        wait_for(holds(bob.folder / "big.txt", text.encode()), "the large file at bob")
        assert share_status(bob)["docs"] > 3  # the root and its chunks

        bob.stop()
        edited = text[:-30] + "bob's offline edit\n" + text[-30:]
        (bob.folder / "big.txt").write_text(edited)
        (alice.folder / "big.txt").unlink()
        wait_for(lambda: logged(alice, "big.txt was deleted here"), "alice's delete")
        bob.start()
        link([alice, bob])
        for device in (alice, bob):
            back = holds(device.folder / "big.txt", edited.encode())
            wait_for(back, f"the edited file at {device.home.name}")

        (bob.folder / "big.txt").unlink()
        for device in (alice, bob):
            wait_for(holds(device.folder / "big.txt", None), f"the delete at {device.home.name}")


def test_doc_export_gives_a_chunked_files_text_and_doc_apply_refuses_it(
    tmp_path: Path,
) -> None:
    update = tmp_path / "update.bin"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, "an edit")
    update.write_bytes(doc.get_update())
    text = big_text()
    with running(tmp_path, "alice") as (alice,):
        path = alice.folder / "big.txt"
        path.write_text(text)
        wait_for(lambda: alice.text("big.txt") == text, "the export of the chunked file")
        (alice.folder / "small.txt").write_text("small\n")
        wait_for(lambda: alice.text("small.txt") == "small\n", "the export of a text file")
        assert len(alice.text("big.txt") or "") == len(text)
        refused = cli(alice.home, "doc", "apply", str(path), str(update), check=False)
        assert refused.returncode == EXIT_USAGE, refused.stderr
        assert refused.stderr.startswith(f"p2psync: {path} is a large text file stored in")
        assert len(refused.stderr.strip().splitlines()) == 1
        assert path.read_text() == text
    assert alice.text("big.txt") == text  # read from the logs, no daemon
    logs = {log: log.stat().st_size for log in docs_dir(alice.folder).iterdir()}
    offline = cli(alice.home, "doc", "apply", str(path), str(update), check=False)
    assert (offline.returncode, offline.stderr) == (refused.returncode, refused.stderr)
    assert {log: log.stat().st_size for log in docs_dir(alice.folder).iterdir()} == logs
    assert path.read_text() == text
