"""A share removed while changes are still being made to it (issue: the daemon died
with ``trio.ClosedResourceError`` after ``share remove``, its mirror writing to a log
already closed): the share stops in order — its own tasks, then the calls in flight,
then its log writers — so every change that was accepted is stored, later ones get a
clear refusal, and the daemon keeps serving."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import trio

from p2psync.config import Member, ShareConfig
from p2psync.control.home import Home
from p2psync.daemon.api import ControlApi
from p2psync.daemon.daemon import Daemon
from p2psync.daemon.events import EventBus
from p2psync.daemon.logreplies import read_stored_updates
from p2psync.daemon.shares import ShareService
from p2psync.daemon.sharestatus import file_docs
from p2psync.errors import UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.protocol.messages import Update
from p2psync.storage import DocLog, append_update
from p2psync.storage.layout import log_path
from tests.support.updates import text_updates

DOC = "notes"
PEER = DeviceId(bytes(range(32)))


def test_a_share_removed_while_it_is_edited_stores_what_it_took_and_keeps_serving(
    tmp_path: Path,
) -> None:
    home = Home.resolve(tmp_path / "home")
    daemon = Daemon(home, listen="127.0.0.1:0", mdns=False)
    share = next(iter(daemon.config.shares))
    share.path.mkdir(parents=True, exist_ok=True)
    for i in range(20):  # loaded docs, each with its writer, and a mirror that scans
        (share.path / f"file{i}.txt").write_text(f"file {i}\n")
    updates, _ = text_updates(10_000)
    api = ControlApi(daemon).handlers()
    stored: list[bytes] = []
    refusals: list[str] = []

    async def edit(service: ShareService) -> None:
        """Change the doc until the share refuses (like ``doc apply`` in a loop)."""
        for update in updates:
            try:
                await service.local_update(DOC, update)
            except UsageError as exc:
                refusals.append(str(exc))
                return
            stored.append(update)

    async def main() -> Any:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                service = daemon.shares[share.id]
                while file_docs(service) < 20:  # the first scan took every file in
                    await trio.sleep(0.05)
                nursery.start_soon(edit, service)
                while len(stored) < 10:
                    await trio.sleep(0.01)
                await api["share.remove"]({"share": str(share.id)})
                status = await api["status"]({})
                nursery.cancel_scope.cancel()
        return status

    status = trio.run(main)
    assert refusals == [f"share {share.id} has stopped (removed, or the daemon is stopping)"]
    assert 10 <= len(stored) < len(updates)
    assert read_stored_updates(share.path, DOC) == stored
    assert status["shares"] == []


def stopped_share(tmp_path: Path) -> tuple[ShareService, bytes]:
    """A share that held doc ``notes`` (its writer open) and was stopped, and a
    further update of the doc."""
    config = ShareConfig(ShareId.new(), tmp_path / "share", (Member(PEER),))
    service = ShareService(
        config, EventBus(), send=lambda peer, message: None,
        disconnect=lambda peer, reason, *, penalty=False: None, mirror=False,
    )  # fmt: skip
    updates, _ = text_updates(2)

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                service.peer_up(PEER)
                await service.local_update(DOC, updates[0])
                await service.aclose()

    trio.run(main)
    return service, updates[1]


@pytest.mark.parametrize("call", ["peer message", "log watcher", "control request"])
def test_calls_that_reach_a_stopped_share_touch_no_closed_log(tmp_path: Path, call: str) -> None:
    """A peer's message, the log watcher or a control request that held the share
    before it was removed, and reaches it after, is ignored or refused in a sentence."""
    service, update = stopped_share(tmp_path)

    async def late_call() -> None:
        if call == "peer message":
            await service.receive(PEER, Update(service.config.id.raw, DOC, [update]))
        elif call == "log watcher":
            await service.log_changed(log_path(service.root, DOC))
        else:
            with pytest.raises(UsageError, match="has stopped"):
                await service.compact_now()

    trio.run(late_call)
    assert read_stored_updates(service.root, DOC) == text_updates(2)[0][:1]


def test_a_log_opened_by_two_callers_at_once_gets_one_writer_and_the_share_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log watcher opens an unloaded doc's log in a thread while the mirror reads
    the doc (which loads it at once): one writer must come of it. Two writers appended
    to one file, and the one left over kept the share from ever stopping (a daemon
    that ignored SIGTERM). Another program appended to the log meanwhile (a log that
    still has the size and mtime recorded at the unload is not opened at all)."""
    service, further = stopped_share(tmp_path)
    append_update(log_path(service.root, DOC), further)
    again = ShareService(
        service.config, EventBus(), send=lambda peer, message: None,
        disconnect=lambda peer, reason, *, penalty=False: None, mirror=False,
    )  # fmt: skip
    in_thread = threading.Event()
    go_on = threading.Event()
    real_open = DocLog.open

    def open_log(path: Path, **options: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            in_thread.set()
            go_on.wait(10)
        return real_open(path, **options)

    monkeypatch.setattr(DocLog, "open", open_log)

    async def main() -> None:
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                await nursery.start(again.run)
                assert again.sync.replica.get(DOC) is None  # known, not loaded
                watched = trio.Event()

                async def log_watcher() -> None:
                    await again.log_changed(log_path(again.root, DOC))
                    watched.set()

                nursery.start_soon(log_watcher)
                while not in_thread.is_set():
                    await trio.sleep(0.01)
                assert again.doc(DOC) is not None  # the mirror's read loads it now
                go_on.set()
                await watched.wait()
                await again.aclose()  # returns: no writer is left running

    trio.run(main)
    assert read_stored_updates(again.root, DOC) == text_updates(2)[0]
