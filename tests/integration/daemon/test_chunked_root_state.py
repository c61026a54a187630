"""A chunked file's root doc is stored as its own state (the list of its chunks):
compacted, or its log written again from memory after it was deleted. Stored as the
file's export (its text as one text doc, what ``doc export`` gives), the root lost
its chunk list: after a restart the file read as empty, its doc held no text and the
mirror wrote the empty file over it (with no peer to send the list back, for good)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pycrdt
import pytest
import trio

from p2psync.config import save_config
from p2psync.control.home import Home
from p2psync.daemon.configedits import load_or_init_config
from p2psync.daemon.daemon import Daemon
from p2psync.daemon.logreplies import read_stored_updates
from p2psync.daemon.shares import ShareService
from p2psync.mirror.chunked import CONTENT, chunk_order
from p2psync.mirror.kinds import FileKind
from p2psync.replica.doc import DocReplica
from p2psync.storage.compaction import replay
from p2psync.storage.layout import log_path
from tests.support.chunkeddaemons import CHUNK_MAX_BYTES, CHUNKED_FILE_BYTES

TEXT = "".join(f"line {n:05} of a long log\n" for n in range(1_600))
MORE = "one more line, saved after the restart\n"
POLL_S = 0.02


def _daemon(tmp_path: Path) -> Daemon:
    """A daemon whose chunking thresholds are lowered, so ``TEXT`` is ten chunks."""
    home = Home.resolve(tmp_path / "home")
    home.ensure()
    config = load_or_init_config(home)
    save_config(home.config_path, replace(config, chunked_file_bytes=CHUNKED_FILE_BYTES,
                                          chunk_max_bytes=CHUNK_MAX_BYTES))  # fmt: skip
    return Daemon(home, listen="127.0.0.1:0", mdns=False)


def _run(daemon: Daemon, step: Callable[[ShareService, Path], Awaitable[Any]]) -> Any:
    """Run ``daemon`` until ``step`` (given its one share and its folder) is done."""
    share = next(iter(daemon.config.shares))
    share.path.mkdir(parents=True, exist_ok=True)
    found: list[Any] = []

    async def main() -> None:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                found.append(await step(daemon.shares[share.id], share.path))
                nursery.cancel_scope.cancel()

    trio.run(main)
    return found[0]


async def _chunked(service: ShareService, rel: str) -> str:
    """The root guid of ``rel`` once the mirror took it in as a chunked file."""
    assert service.mirror is not None
    mirror = service.mirror.mirror
    while (entry := mirror.view.by_path.get(rel)) is None or rel not in mirror.synced:
        await trio.sleep(POLL_S)
    assert entry.kind is FileKind.CHUNKED
    return entry.guid


def _stored(folder: Path, guid: str) -> pycrdt.Doc[Any]:
    """The doc ``guid`` as its log on disk holds it."""
    return replay(read_stored_updates(folder, guid))


def _stored_text(folder: Path, root: str) -> str:
    """The text of the chunked file ``root`` as the logs on disk hold it."""
    chunks = chunk_order(_stored(folder, root), root)
    return "".join(str(_stored(folder, g).get(CONTENT, type=pycrdt.Text)) for g in chunks)


def test_a_chunked_files_root_is_compacted_to_its_own_state_and_the_file_survives_a_restart(
    tmp_path: Path,
) -> None:
    async def compact(service: ShareService, folder: Path) -> tuple[str, list[str], bytes]:
        (folder / "big.log").write_text(TEXT)
        root = await _chunked(service, "big.log")
        doc = service.doc(root)
        assert doc is not None
        assert await service.compact_now() > 1  # the root's log among them
        export = service.export_state(root)
        assert export is not None
        return root, chunk_order(doc.ydoc, root), export

    daemon = _daemon(tmp_path)
    folder = next(iter(daemon.config.shares)).path
    root, chunks, export = _run(daemon, compact)
    assert len(chunks) > 5
    assert chunk_order(_stored(folder, root), root) == chunks
    assert _stored_text(folder, root) == TEXT
    exported = replay([export])  # ``doc export`` still gives the text as one text doc
    assert str(exported.get(CONTENT, type=pycrdt.Text)) == TEXT

    async def save_after_restart(service: ShareService, folder: Path) -> list[int]:
        with (folder / "big.log").open("a") as file:
            file.write(MORE)
        while service.history.current_text(root) != TEXT + MORE:
            await trio.sleep(POLL_S)
        return [version.size for version in await service.history.versions(root)]

    sizes = _run(_daemon(tmp_path), save_after_restart)
    assert (folder / "big.log").read_text() == TEXT + MORE
    assert _stored_text(folder, root) == TEXT + MORE
    assert 0 not in sizes  # no version of the file emptied


def test_a_chunked_files_root_log_deleted_is_written_again_with_its_chunk_list(
    tmp_path: Path,
) -> None:
    async def delete_root_log(service: ShareService, folder: Path) -> tuple[str, list[str]]:
        (folder / "big.log").write_text(TEXT)
        root = await _chunked(service, "big.log")
        doc = service.doc(root)
        assert doc is not None
        path = log_path(folder, root)
        path.unlink()
        while not read_stored_updates(folder, root):  # written again from memory
            await trio.sleep(POLL_S)
        return root, chunk_order(doc.ydoc, root)

    daemon = _daemon(tmp_path)
    folder = next(iter(daemon.config.shares)).path
    root, chunks = _run(daemon, delete_root_log)
    assert len(chunks) > 5
    assert chunk_order(_stored(folder, root), root) == chunks
    assert _stored_text(folder, root) == TEXT


def _chunked_file(tmp_path: Path) -> tuple[Daemon, Path, str, list[str]]:
    """A daemon, its share folder, and the root and chunks of ``big.log`` it took in."""

    async def create(service: ShareService, folder: Path) -> tuple[str, list[str]]:
        (folder / "big.log").write_text(TEXT)
        root = await _chunked(service, "big.log")
        while not await service.history.versions(root):  # recorded behind the take-in
            await trio.sleep(POLL_S)
        doc = service.doc(root)
        assert doc is not None
        return root, chunk_order(doc.ydoc, root)

    daemon = _daemon(tmp_path)
    folder = next(iter(daemon.config.shares)).path
    root, chunks = _run(daemon, create)
    return daemon, folder, root, chunks


def test_a_root_compacted_to_its_export_is_listed_again_and_its_file_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old bug, made again: a compaction stores the root's export as its log. The
    next daemon finds the root listing no chunks: it lists them again from the file's
    sync record (as a local edit, stored), never empties the file, and a save merges."""
    _, folder, root, chunks = _chunked_file(tmp_path)

    async def compact_to_export(service: ShareService, folder: Path) -> None:
        await _chunked(service, "big.log")
        assert service.doc(root) is not None  # loaded: compact_now compacts loaded docs
        monkeypatch.setattr(ShareService, "doc_state", ShareService.export_state)
        assert await service.compact_now() >= 1
        monkeypatch.undo()

    _run(_daemon(tmp_path), compact_to_export)
    assert chunk_order(_stored(folder, root), root) == []  # the damage, on disk

    async def save_after_repair(service: ShareService, folder: Path) -> tuple[str, list[int]]:
        while True:  # listed again, or (the bug) the file emptied
            doc = service.doc(root)
            if (doc is not None and chunk_order(doc.ydoc, root)) or not (
                folder / "big.log"
            ).read_text():
                break
            await trio.sleep(POLL_S)
        found = (folder / "big.log").read_text()
        with (folder / "big.log").open("a") as file:
            file.write(MORE)
        while service.history.current_text(root) != TEXT + MORE:
            await trio.sleep(POLL_S)
        assert service.mirror is not None
        assert service.mirror.mirror.problems.listing() == []
        return found, [version.size for version in await service.history.versions(root)]

    found, sizes = _run(_daemon(tmp_path), save_after_repair)
    assert found == TEXT
    assert (folder / "big.log").read_text() == TEXT + MORE
    assert chunk_order(_stored(folder, root), root)[: len(chunks)] == chunks
    assert _stored_text(folder, root) == TEXT + MORE
    assert 0 not in sizes


def test_no_version_is_recorded_from_a_root_that_lists_no_chunks(tmp_path: Path) -> None:
    _, _, root, _ = _chunked_file(tmp_path)

    async def record_lost(service: ShareService, folder: Path) -> tuple[list[int], list[int]]:
        await _chunked(service, "big.log")
        before = [version.size for version in await service.history.versions(root)]
        lost = DocReplica(root)  # a root that lost its list: its log held the export
        export = service.export_state(root)
        assert export is not None
        lost.apply(export)
        real = service.doc
        service.doc = lambda guid: lost if guid == root else real(guid)  # type: ignore[method-assign]
        try:
            await service.history.chunked.record(root, "local save", "device")
        finally:
            del service.doc
        return before, [version.size for version in await service.history.versions(root)]

    before, after = _run(_daemon(tmp_path), record_lost)
    assert before
    assert after == before
