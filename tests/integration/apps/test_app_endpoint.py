"""The apps endpoint on real daemons: an app on one device edits a text file on the
other, a save reaches the app, a receive-only share's rooms refuse edits, and a burst
an app sends as it leaves is applied whole."""

from __future__ import annotations

import trio

from tests.integration.apps.yclient import connect, until, until_blocking
from tests.support import apps
from tests.support.apps import doc_url, read, start
from tests.support.daemons import Device, setup

pair = apps.pair
"""alice and bob, one share, the apps endpoint on any free port; not started."""
BURST = 200


async def test_an_app_on_bob_edits_alices_file_and_her_saves_reach_it(pair: list[Device]) -> None:
    alice, bob = pair
    await trio.to_thread.run_sync(start, pair, "notes.txt", "hello\n")
    found = await trio.to_thread.run_sync(doc_url, bob, "notes.txt")
    assert found["url"] == f"{found['server']}/{found['room']}?token={found['params']['token']}"

    async with connect(found["url"]) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        assert str(app.text) == "hello\n"

        await app.edit(lambda text: text.insert(len(text), "from the app\n"))
        await until_blocking(lambda: read(alice.folder / "notes.txt") == "hello\nfrom the app\n",
                             "the app's edit in alice's file")  # fmt: skip
        assert read(bob.folder / "notes.txt") == "hello\nfrom the app\n"

        (alice.folder / "notes.txt").write_text("saved by alice\nhello\nfrom the app\n")
        await until(lambda: str(app.text) == "saved by alice\nhello\nfrom the app\n",
                    "alice's save in the app")  # fmt: skip

        # A second app in the same room sees the first one's edits at once.
        async with connect(found["url"], client_id=8) as other:
            with trio.fail_after(30):
                await other.synced.wait()
            assert str(other.text) == str(app.text)
            await app.edit(lambda text: text.insert(0, "> "))
            await until(lambda: str(other.text).startswith("> saved"), "the edit in the other app")
        assert app.closed is None


async def test_a_receive_only_share_gives_read_only_rooms(pair: list[Device]) -> None:
    alice, bob = pair
    await trio.to_thread.run_sync(start, pair, "notes.txt", "as it is\n")
    share = apps.SHARES[str(alice.home.parent)]
    setup(alice.home, "share", "member", "add", share, bob.id, "--mode", "receive-only")

    def receive_only() -> bool:
        shares = bob.status()["shares"]
        return bool(next(s for s in shares if s["id"] == share)["mode"] == "receive-only")

    await until_blocking(receive_only, "bob receive-only")
    found = await trio.to_thread.run_sync(doc_url, bob, "notes.txt")

    async with connect(found["url"]) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        await app.edit(lambda text: text.insert(0, "refused "))
        await until(lambda: bool(app.auth), "the permission-denied message")
        assert b"receive-only" in app.auth[0]
        assert app.closed is None  # read-only, not closed
    assert bob.text("notes.txt") == "as it is\n"
    assert read(bob.folder / "notes.txt") == "as it is\n"
    assert read(alice.folder / "notes.txt") == "as it is\n"


async def test_a_burst_of_edits_an_app_sends_as_it_leaves_all_reach_the_other_device(
    pair: list[Device],
) -> None:
    alice, bob = pair
    await trio.to_thread.run_sync(start, pair, "burst.txt", "burst:\n")
    found = await trio.to_thread.run_sync(doc_url, bob, "burst.txt")
    async with connect(found["url"]) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        for _ in range(BURST):  # one Update message each, sent back to back
            app.text.insert(len(app.text), "x")
        await app.flush()
    # The app is gone; what it sent was applied in order (merged while stored).
    wanted = "burst:\n" + "x" * BURST
    await until_blocking(lambda: read(alice.folder / "burst.txt") == wanted,
                         "the whole burst in alice's file")  # fmt: skip
    assert read(bob.folder / "burst.txt") == wanted


async def test_a_url_made_before_the_secret_was_replaced_is_refused_with_what_to_do(
    pair: list[Device],
) -> None:
    alice = pair[0]
    (alice.folder / "notes.txt").write_text("kept\n")
    await trio.to_thread.run_sync(alice.start)
    stale = await trio.to_thread.run_sync(doc_url, alice, "notes.txt")
    await trio.to_thread.run_sync(alice.stop)
    (alice.home / "state" / "apps.key").unlink()  # revokes every token (docs/apps.md)
    await trio.to_thread.run_sync(alice.start)
    fresh = await trio.to_thread.run_sync(doc_url, alice, "notes.txt")
    assert fresh["params"] != stale["params"]
    stale_url = f"{fresh['server']}/{stale['room']}?token={stale['params']['token']}"
    async with connect(stale_url) as app:
        await until(lambda: app.closed is not None, "the stale URL refused")
        assert app.closed is not None
        assert app.closed.reason is not None
        assert app.closed.reason.code == 4401
        assert "p2psync doc url" in (app.closed.reason.reason or "")
    async with connect(fresh["url"]) as app:
        with trio.fail_after(30):
            await app.synced.wait()
        assert str(app.text) == "kept\n"
