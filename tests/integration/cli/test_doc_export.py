"""``doc export`` of a doc larger than one control API message (a chunked file, a
large text file above the chunking threshold) with the daemon running: it comes over
the control API in parts and is written to the output as they arrive. It equals the
export with the daemon stopped (the same text: each export of a chunked file is a new
doc), and a failed export leaves no file behind."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pycrdt

from p2psync.control import wire
from p2psync.control.home import Home
from p2psync.control.wire import MAX_MESSAGE_BYTES, PART_BYTES
from p2psync.mirror.chunked import CONTENT
from p2psync.mirror.chunkfile import CHUNKED_FILE_BYTES
from tests.support.daemons import Device, cli, wait_for


def text_of(state: bytes) -> str:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.apply_update(state)
    return str(doc.get(CONTENT, type=pycrdt.Text))


def test_a_chunked_file_exports_while_the_daemon_runs_as_when_it_is_stopped(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    line = "a line of a large text file, long enough to add up quickly\n"
    text = line * (CHUNKED_FILE_BYTES // len(line) + 1000)  # above the threshold
    (device.folder / "big.log").write_text(text)
    out = tmp_path / "out" / "big.yjs"
    out.parent.mkdir()

    def export(*extra: str) -> int:
        args = ("doc", "export", str(device.folder / "big.log"), "-o", str(out), *extra)
        return cli(device.home, *args, check=False).returncode

    try:
        device.start()
        wait_for(lambda: export() == 0 and text_of(out.read_bytes()) == text, "the export", 60)
        running = out.read_bytes()
        assert len(running) > MAX_MESSAGE_BYTES  # more than one message could carry

        # A failed export (no such doc) leaves the last one as it was, and no temp file.
        missing = cli(device.home, "doc", "export", str(device.folder / "none.md"),
                      "-o", str(out), check=False)  # fmt: skip
        assert missing.returncode != 0
        assert "has no doc" in missing.stderr
        assert [p.name for p in out.parent.iterdir()] == ["big.yjs"]
        assert out.read_bytes() == running
        # Standard output gets the same bytes.
        command = [sys.executable, "-m", "p2psync", "--home", str(device.home), "doc",
                   "export", str(device.folder / "big.log")]  # fmt: skip
        to_stdout = subprocess.run(command, capture_output=True, timeout=60, check=True)
        assert text_of(to_stdout.stdout) == text
    finally:
        device.stop(signal.SIGTERM)
    out.unlink()
    assert export() == 0
    assert text_of(out.read_bytes()) == text  # (each export is a doc of a fresh client)


def test_an_export_cut_off_midway_leaves_no_file(tmp_path: Path) -> None:
    """A daemon that dies after the first part (here a stand-in on the control socket
    that sends one part and hangs up): the export fails in a sentence, and neither the
    output nor a temp file is left."""
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    out = tmp_path / "out" / "big.yjs"
    out.parent.mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(Home.resolve(device.home).socket_path))
    server.listen(1)

    def one_part_then_hang_up() -> None:
        connection, _ = server.accept()
        with connection:
            request = json.loads(connection.makefile("rb").readline())
            part = base64.b64encode(b"\x01" * PART_BYTES).decode()
            connection.sendall(wire.encode({"id": request["id"], "part": part}))

    thread = threading.Thread(target=one_part_then_hang_up)
    thread.start()
    try:
        result = cli(device.home, "doc", "export", str(device.folder / "big.log"),
                     "-o", str(out), check=False)  # fmt: skip
    finally:
        thread.join(timeout=30)
        server.close()
    assert result.returncode != 0
    assert "closed the control connection" in result.stderr
    assert list(out.parent.iterdir()) == []
