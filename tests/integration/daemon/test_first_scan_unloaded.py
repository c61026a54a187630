"""A first scan keeps no doc per file (issue 19): each new text file's doc is stored
by its group's commit and leaves memory at once (``daemon.newdocs``,
``Unloader.unload_new``), with its version, its index record, its first version in
the file history and its sync record, as a doc unloaded when idle; a later save of
the file loads it and is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pycrdt
import trio

from p2psync.control.home import Home
from p2psync.daemon.daemon import Daemon
from p2psync.daemon.logreplies import read_stored_updates
from p2psync.daemon.shares import ShareService
from p2psync.daemon.sharestatus import file_docs
from p2psync.storage.layout import log_path

TEXTS = 40
BINARIES = 4


def _text(updates: list[bytes]) -> str:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("content", type=pycrdt.Text))


def _guids(service: ShareService) -> dict[str, str]:
    assert service.mirror is not None
    view = service.mirror.mirror.view
    return {rel: entry.guid for rel, entry in view.by_path.items() if not entry.deleted}


def test_a_first_scan_leaves_its_text_docs_stored_and_unloaded(tmp_path: Path) -> None:
    daemon = Daemon(Home.resolve(tmp_path / "home"), listen="127.0.0.1:0", mdns=False)
    share = next(iter(daemon.config.shares))
    share.path.mkdir(parents=True, exist_ok=True)
    texts = {f"t{i:02}.txt": f"text file {i}\n" for i in range(TEXTS)}
    for rel, text in texts.items():
        (share.path / rel).write_text(text)
    for i in range(BINARIES):
        (share.path / f"b{i}.bin").write_bytes(bytes([0, i, 255]) * 100)
    found: dict[str, Any] = {}

    async def main() -> None:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                service = daemon.shares[share.id]
                assert service.mirror is not None
                while (
                    file_docs(service) < TEXTS + BINARIES
                    or len(service.mirror.mirror.synced) < TEXTS + BINARIES
                ):
                    await trio.sleep(0.02)
                guids = _guids(service)
                found["loaded"] = {
                    rel for rel in texts if service.sync.replica.is_loaded(guids[rel])
                }
                found["recorded"] = {rel for rel in texts if guids[rel] in service.index.records}
                found["versions"] = {
                    rel: len(await service.history.versions(guids[rel]))
                    for rel in ("t00.txt", "t01.txt")
                }
                found["stored"] = {
                    rel: _text(read_stored_updates(share.path, guids[rel])) for rel in texts
                }
                (share.path / "t01.txt").write_text("text file 1, saved again\n")
                while (
                    doc := service.doc(guids["t01.txt"])
                ) is None or doc.text() != "text file 1, saved again\n":
                    await trio.sleep(0.02)
                found["saved"] = _text(read_stored_updates(share.path, guids["t01.txt"]))
                found["log"] = log_path(share.path, guids["t01.txt"]).exists()
                nursery.cancel_scope.cancel()

    trio.run(main)
    assert found["loaded"] == set()  # none, before the history's reads loaded two
    assert found["recorded"] == set(texts)
    assert found["stored"] == texts
    assert found["versions"] == {"t00.txt": 1, "t01.txt": 1}
    assert found["saved"] == "text file 1, saved again\n"
