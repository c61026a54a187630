"""App docs (``.ydoc``) on two real daemons: an app's edit of a map reaches the other
device's file, a file copied in syncs as an app doc and merges with concurrent
changes, a file that is no Yjs doc is reported and changes nothing, and an app doc
that does not exist yet is made by an app's first write, not by asking its URL."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pycrdt
import trio

from tests.integration.apps.yclient import YClient, connect, until, until_blocking
from tests.support import apps
from tests.support.apps import doc_url
from tests.support.boards import board, cards_in, start
from tests.support.daemons import Device, cli, link, wait_for

YDoc = pycrdt.Doc[Any]


pair = apps.pair
"""alice and bob, one share, the apps endpoint on any free port; not started."""


def holds(path: Path, cards: dict[str, Any]) -> Callable[[], bool]:
    return lambda: cards_in(path) == cards


def cards_of(app: YClient) -> dict[str, Any]:
    return dict(app.doc.get("cards", type=pycrdt.Map).to_py() or {})


@asynccontextmanager
async def app_on_bob(devices: list[Device], **cells: Any) -> AsyncIterator[YClient]:
    """``start``, then an app on bob connected to ``board.ydoc`` and synced."""
    alice, bob = devices
    await trio.to_thread.run_sync(lambda: start(alice, bob, **cells))
    found = await trio.to_thread.run_sync(doc_url, bob, "board.ydoc")
    assert found["url"].startswith(found["server"])
    async with connect(found["url"]) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        yield app


def problems(device: Device) -> list[dict[str, Any]]:
    shares: list[dict[str, Any]] = device.status()["shares"]
    share = next(s for s in shares if s["path"] == str(device.folder))
    found: list[dict[str, Any]] = share["not_in_sync"]
    return found


async def test_an_app_on_bob_edits_a_map_and_alices_file_holds_it(
    pair: list[Device],
) -> None:
    alice, bob = pair
    async with app_on_bob(pair, todo="milk") as app:
        assert cards_of(app) == {"todo": "milk"}
        cards = app.doc.get("cards", type=pycrdt.Map)
        cards["done"] = True
        cards["count"] = 3
        await app.flush()
        expected = {"todo": "milk", "done": True, "count": 3}
        await until(lambda: cards_in(alice.folder / "board.ydoc") == expected,
                    "the app's edit in alice's file")  # fmt: skip
        await until(lambda: cards_in(bob.folder / "board.ydoc") == expected,
                    "the app's edit in bob's file")  # fmt: skip


async def test_a_ydoc_copied_in_merges_with_concurrent_changes_and_reaches_the_app(
    pair: list[Device], tmp_path: Path
) -> None:
    alice, bob = pair
    async with app_on_bob(pair, a=1) as app:
        # At once on both devices: an app on bob sets a card, and on alice another
        # program's doc (a backup, another machine's copy) is copied over the file.
        copied = tmp_path / "elsewhere.ydoc"
        copied.write_bytes(board(22, c=3))
        app.doc.get("cards", type=pycrdt.Map)["b"] = 2
        await app.flush()
        await trio.to_thread.run_sync(shutil.copyfile, copied, alice.folder / "board.ydoc")
        everything = {"a": 1, "b": 2, "c": 3}
        await until(lambda: cards_of(app) == everything, "the copied doc merged, in the app")
        for device in (alice, bob):
            await until(holds(device.folder / "board.ydoc", everything),
                        f"everything in {device.folder}")  # fmt: skip

        # A new .ydoc copied in on alice is an app doc on bob too: an app opens it.
        await trio.to_thread.run_sync(shutil.copyfile, copied, alice.folder / "new.ydoc")
        await until(lambda: cards_in(bob.folder / "new.ydoc") == {"c": 3}, "new.ydoc at bob")
        url = (await trio.to_thread.run_sync(doc_url, bob, "new.ydoc"))["url"]
    async with connect(url) as other:
        with trio.fail_after(30):
            await other.synced.wait()
        assert cards_of(other) == {"c": 3}


async def test_a_ydoc_that_is_no_yjs_doc_is_reported_and_changes_nothing(
    pair: list[Device],
) -> None:
    alice, bob = pair
    async with app_on_bob(pair, a=1) as app:
        garbage = b"PK\x03\x04 not a Yjs update at all"
        (alice.folder / "board.ydoc").write_bytes(garbage)
        (alice.folder / "junk.ydoc").write_bytes(garbage)
        await until_blocking(lambda: len(problems(alice)) == 2, "both files listed")
        listed = sorted(problems(alice), key=lambda p: p["path"])
        assert [p["path"] for p in listed] == ["board.ydoc", "junk.ydoc"]
        for problem in listed:
            assert problem["kind"] == "file-skipped"
            assert "not a Yjs doc" in problem["reason"]
        assert alice.status()["state"] == "not-in-sync"

        # A file written after them reaches bob: the garbage did not, nor changed the doc.
        (alice.folder / "later.txt").write_text("later\n")
        await until((bob.folder / "later.txt").is_file, "later.txt at bob")
        assert not (bob.folder / "junk.ydoc").exists()
        assert cards_in(bob.folder / "board.ydoc") == {"a": 1}
        assert cards_of(app) == {"a": 1}
        assert (alice.folder / "board.ydoc").read_bytes() == garbage  # left as it is

        # Fixed (the doc's state put back), it is in sync again and merges.
        (alice.folder / "board.ydoc").write_bytes(board(33, z=26))
        await until(lambda: cards_of(app) == {"a": 1, "z": 26}, "the fixed file merged")
        await until_blocking(lambda: [p["path"] for p in problems(alice)] == ["junk.ydoc"],
                             "board.ydoc no longer listed")  # fmt: skip


def files_of(device: Device) -> dict[str, str]:
    """The share's files as the daemon of ``device`` lists them, with their kinds."""
    share = apps.SHARES[str(device.folder.parent)]
    found = device.ask("history.files", share=share)["files"]
    return {f["path"]: f["kind"] for f in found}


async def test_doc_url_of_a_ydoc_not_there_yet_makes_nothing_and_an_apps_first_write_makes_it(
    pair: list[Device],
) -> None:
    """Asking for a URL writes no file: an empty app doc made on one device only would
    be a file the other never gets while both say in sync. The app's first write
    makes the doc, and its file appears on both devices."""
    alice, bob = pair
    await trio.to_thread.run_sync(lambda: start(alice, bob, a=1))
    found = await trio.to_thread.run_sync(doc_url, bob, "apps/fresh.ydoc")
    for device in pair:
        waited = await trio.to_thread.run_sync(
            partial(cli, device.home, "wait-idle", "--min-peers", "1", "--quiet")
        )
        assert waited.returncode == 0
        assert not (device.folder / "apps" / "fresh.ydoc").exists()
        assert "apps/fresh.ydoc" not in await trio.to_thread.run_sync(files_of, device)
    async with connect(found["url"]) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        assert cards_of(app) == {}
        app.doc.get("cards", type=pycrdt.Map)["first"] = "card"
        await app.flush()
        for device in pair:
            await until(holds(device.folder / "apps" / "fresh.ydoc", {"first": "card"}),
                        f"the new app doc in {device.home.name}'s file")  # fmt: skip
    for device in pair:
        kinds = await trio.to_thread.run_sync(files_of, device)
        assert kinds["apps/fresh.ydoc"] == "ydoc"
    again = await trio.to_thread.run_sync(doc_url, bob, "apps/fresh.ydoc")
    assert again["room"] == found["room"]  # the same doc from then on
    from_alice = await trio.to_thread.run_sync(doc_url, alice, "apps/fresh.ydoc")
    assert from_alice["room"] == found["room"]

    (bob.folder / "junk.ydoc").write_bytes(b"no doc")
    refused = await trio.to_thread.run_sync(
        lambda: cli(bob.home, "doc", "url", str(bob.folder / "junk.ydoc"), check=False)
    )
    assert refused.returncode == 2
    assert "junk.ydoc: the file is not a Yjs doc" in refused.stderr
    assert (bob.folder / "junk.ydoc").read_bytes() == b"no doc"


def test_an_app_doc_made_on_both_devices_before_they_met_is_merged_not_replaced(
    pair: list[Device],
) -> None:
    alice, bob = pair
    (alice.folder / "board.ydoc").write_bytes(board(41, a=1))
    (bob.folder / "board.ydoc").write_bytes(board(42, b=2))
    for device in pair:
        device.start()
    link(pair)
    for device in pair:
        wait_for(holds(device.folder / "board.ydoc", {"a": 1, "b": 2}),
                 f"both docs merged in {device.folder}")  # fmt: skip
