"""``doc export``, ``doc apply`` and ``doc url`` of a path that is no file of the share
(the share's folder itself, a file in its ``.p2psync``, a folder, a path out of it), and
``doc apply`` to a binary file: one sentence, exit 2, nothing changed, with a daemon or
without; the daemon's control API refuses the same paths as a usage error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pycrdt
import pytest

from p2psync.errors import ControlError
from p2psync.storage.layout import docs_dir
from tests.support.daemons import Device, cli, wait_for


def update_file(device: Device) -> Path:
    """A file holding a Yjs v1 update that inserts some text."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=9)
    doc.get("content", type=pycrdt.Text).insert(0, "applied\n")
    path = device.home / "update.bin"
    path.write_bytes(doc.get_update())
    return path


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but its ``.p2psync`` (which a daemon writes on its
    own timers) and its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".p2psync" not in path.relative_to(folder).parts
    }


def logs_of(device: Device) -> set[str]:
    """The names of the share's doc logs."""
    return {path.name for path in docs_dir(device.folder).glob("*.ylog")}


def refused(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("p2psync: "), result.stderr
    assert words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def refuse_paths(device: Device) -> None:
    """The CLI refuses every path that is no file of the share (run with the daemon
    running or not): nothing in the share changes."""
    share, update = device.folder, update_file(device)
    out = str(device.home / "out.bin")
    before, logs = files_under(share), logs_of(device)
    for args, words in [
        (("export", str(share), "-o", out), "is the share's folder itself"),
        (("url", str(share)), "is the share's folder itself"),
        (("apply", str(share), str(update)), "is the share's folder itself"),
        (("export", str(share / ".p2psync" / "index.bin"), "-o", out), "not a file of"),
        (("url", str(share / ".p2psync" / "index.bin")), "not a file of the share"),
        (("apply", str(share / ".p2psync" / "x.txt"), str(update)), "not a file of"),
        (("apply", str(share / "folder"), str(update)), "folder is a folder"),
        (("apply", str(share / "a.txt" / "b.txt"), str(update)), "a.txt is a file"),
        (
            ("export", str(share / "a.txt"), "-o", str(share / ".p2psync" / "index.bin")),
            "inside a .p2psync folder",
        ),
        (
            ("export", str(share / "a.txt"), "-o", str(device.home / "config.toml")),
            "one of this device's own files",
        ),
    ]:
        refused(cli(device.home, "doc", *args, check=False), words)
    assert files_under(share) == before
    assert logs_of(device) == logs
    assert not Path(out).exists()


def make_files(device: Device) -> None:
    (device.folder / "folder").mkdir(parents=True)
    (device.folder / "a.txt").write_text("text\n")
    (device.folder / "b.bin").write_bytes(b"\0\1\2 binary")


def test_paths_that_are_no_file_are_refused_without_a_daemon(tmp_path: Path) -> None:
    device = Device(tmp_path, "a")
    make_files(device)
    cli(device.home, "share", "add", str(device.folder))
    refuse_paths(device)


def test_paths_that_are_no_file_and_binary_files_are_refused_by_the_daemon(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, "a")
    make_files(device)
    share = cli(device.home, "share", "add", str(device.folder)).stdout.strip()
    device.start()
    try:

        def versions() -> list[object] | None:
            try:
                return list(device.ask("history", share=share, doc="b.bin")["versions"])
            except ControlError:
                return None

        wait_for(lambda: bool(versions()), "the binary file taken in")
        refuse_paths(device)
        update = update_file(device)
        refused(
            cli(device.home, "doc", "apply", str(device.folder / "b.bin"), str(update),
                check=False),
            "b.bin is a binary file: binary files take no text updates",
        )  # fmt: skip
        bad = {"update": "AAA="}  # refused before the update is looked at
        for method, params in [
            ("doc.apply", {"doc": ".p2psync/x.txt", **bad}),
            ("doc.apply", {"doc": "../out.txt", **bad}),
            ("doc.apply", {"doc": "folder", **bad}),
            ("doc.apply", {"doc": "b.bin", **bad}),
            ("doc.url", {"doc": ".p2psync/x.ydoc"}),
            ("doc.export", {"doc": ".p2psync/index.bin"}),
            ("doc.export", {"doc": ""}),
        ]:
            with pytest.raises(ControlError) as error:
                device.ask(method, share=share, **params)
            assert error.value.code == "usage", (method, params, str(error.value))
        assert len(versions() or []) == 1  # no "+0 -0" version of the binary file
        status = device.ask("status")
        assert [s["not_in_sync"] for s in status["shares"]] == [[], []]
        assert not (tmp_path / "out.txt").exists()
    finally:
        device.stop()
