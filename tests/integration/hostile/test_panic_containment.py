"""A pycrdt panic that gets past the scan is contained in a real daemon (in process):
the doc is rebuilt from its log, the bytes are quarantined, the daemon keeps serving.

No input known today gets past the scan (that is its job), so the scan is replaced by
one that accepts everything, standing in for a Yrs bug it does not know."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pycrdt
import pytest
import trio

import p2psync.replica.validate as validate
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.daemon.daemon import Daemon
from p2psync.errors import ControlError
from p2psync.net.transport import HandshakeError
from p2psync.protocol.messages import Update
from p2psync.protocol.yjs_update import UpdateShape
from p2psync.storage.quarantine import quarantine_dir
from tests.support.daemons import setup
from tests.support.hostile import FeedReport, Mallory, frame_of, send_and_wait

PANICKING = b"\x01\x01\x01\x0b\xc4\x01\x03\x01\x04\x00\x00"  # "" after client 1's text


def hello_update() -> bytes:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=1)
    doc.get("content", type=pycrdt.Text).insert(0, "hello world")
    return doc.get_update()


def test_a_local_update_that_panics_reloads_the_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home.resolve(tmp_path / "home")
    daemon = Daemon(home, listen="127.0.0.1:0", mdns=False)
    share = next(iter(daemon.config.shares))

    def client_side() -> tuple[str, Any]:
        with ControlClient(home.socket_path) as client:
            apply = {"share": str(share.id), "doc": "notes.md"}
            client.call("doc.apply", **apply, update=base64.b64encode(hello_update()).decode())
            monkeypatch.setattr(validate, "scan_update", lambda update: UpdateShape())
            with pytest.raises(ControlError) as refused:
                client.call("doc.apply", **apply, update=base64.b64encode(PANICKING).decode())
            monkeypatch.undo()
            exported = client.call("doc.export", **apply)
            return str(refused.value), exported

    async def main() -> tuple[str, Any]:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                result = await trio.to_thread.run_sync(client_side)
                nursery.cancel_scope.cancel()
        return result

    refusal, exported = trio.run(main)
    assert "crashed the CRDT engine" in refusal
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.apply_update(base64.b64decode(exported["update"]))
    assert str(doc.get("content", type=pycrdt.Text)) == "hello world"
    kept = [p for p in quarantine_dir(share.path).iterdir() if p.suffix != ".reason"]
    assert len(kept) == 1


def test_a_peer_update_that_panics_is_contained_and_the_peer_backed_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home.resolve(tmp_path / "home")
    mallory = Mallory(tmp_path / "mallory")
    daemon = Daemon(home, listen="127.0.0.1:0", mdns=False)
    share = next(iter(daemon.config.shares))
    setup(home.root, "share", "member", "add", str(share.id), str(mallory.id))
    daemon = Daemon(home, listen="127.0.0.1:0", mdns=False)  # with mallory a member
    apply = {"share": str(share.id), "doc": "notes.md"}

    async def main() -> tuple[str, str, Any, Any]:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                with ControlClient(home.socket_path) as client:
                    update = base64.b64encode(hello_update()).decode()
                    await trio.to_thread.run_sync(lambda: client.call("doc.apply", **apply,
                                                                      update=update))  # fmt: skip
                monkeypatch.setattr(validate, "scan_update", lambda update: UpdateShape())
                channel = await mallory.connect(daemon.listen_address, daemon.identity.device_id)
                report = FeedReport()
                frame = frame_of(Update(share.id.raw, "notes.md", [PANICKING]))
                await send_and_wait(channel, frame, report)
                monkeypatch.undo()
                with pytest.raises(HandshakeError) as again:
                    await mallory.connect(daemon.listen_address, daemon.identity.device_id)
                with ControlClient(home.socket_path) as client:
                    exported, peers, status = await trio.to_thread.run_sync(
                        lambda: (
                            client.call("doc.export", **apply),
                            client.call("peers"),
                            client.call("status"),
                        )
                    )
                nursery.cancel_scope.cancel()
        error = next(p["last_error"] for p in peers["peers"] if p["device_id"] == str(mallory.id))
        return again.value.code, str(error), exported, status

    code, error, exported, status = trio.run(main)
    listed = next(s for s in status["shares"] if s["id"] == str(share.id))["not_in_sync"]
    assert [(p["path"], p["kind"]) for p in listed] == [("notes.md", "doc-failing")]
    assert "crashed the CRDT engine" in listed[0]["reason"]
    assert str(quarantine_dir(share.path)) in listed[0]["reason"]
    assert code == "backoff"
    assert "crashed the CRDT engine" in error
    assert "refused for 5 s" in error
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.apply_update(base64.b64decode(exported["update"]))
    assert str(doc.get("content", type=pycrdt.Text)) == "hello world"
    assert [p.suffix for p in quarantine_dir(share.path).iterdir()].count(".reason") == 1
