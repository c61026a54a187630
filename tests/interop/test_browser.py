"""A real browser app on two daemons: Debian's Chromium, headless, driven by
``playwright-core`` (``browser_app.mjs``), shows a page that binds a textarea to a text
file's doc with the stock ``yjs`` and ``y-websocket`` (``browser_page.mjs``, bundled
by ``esbuild`` when the test runs and served on 127.0.0.1 by the test). What is typed
in the page on alice's daemon lands in bob's file, bob's save reaches the page, and
presence goes both ways between the page and a Node app on bob; a page from an origin
not in ``[apps] allowed_origins`` is refused."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import doc_url, read
from tests.support.daemons import Device, make_share, wait_for
from tests.support.nodeapps import NodeApp, text_apps

HERE = Path(__file__).parent
DRIVER = HERE / "browser_app.mjs"
CHROMIUM = Path("/usr/bin/chromium")


class BrowserApp(NodeApp):
    """The page in a headless Chromium (``browser_app.mjs``), bound to the room of
    ``where``; ``seen`` is what the page held when last read."""

    def __init__(self, where: dict[str, Any], page_url: str) -> None:
        assert CHROMIUM.exists(), "Debian's chromium is required: `make system-deps`"
        for package in ("playwright-core", "esbuild"):
            installed = (HERE / "node_modules" / package).is_dir()
            assert installed, f"run `make test` to install {package}"
        super().__init__(where, page_url, DRIVER)

    def until(self, condition: Callable[[dict[str, Any]], bool], what: str) -> None:
        """Read the page (``page.evaluate``) at every poll until ``condition`` holds."""

        def read_page() -> bool:
            self.send(op="read")
            return bool(self.seen) and condition(self.seen)

        wait_for(read_page, what)


@pytest.fixture
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page, bundled by esbuild into a folder served on 127.0.0.1: its origin."""
    folder = tmp_path_factory.mktemp("site")
    shutil.copy(HERE / "browser_page.html", folder / "index.html")
    subprocess.run(
        [str(HERE / "node_modules" / ".bin" / "esbuild"), str(HERE / "browser_page.mjs"),
         "--bundle", "--format=esm", f"--outfile={folder / 'page.js'}", "--log-level=warning"],
        check=True, timeout=120,
    )  # fmt: skip
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(folder))
    )
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    serving.join()


@pytest.fixture
def pair(pair: list[Device], site: str) -> list[Device]:
    """Alice and bob sharing a folder; their endpoints let the site's pages in."""
    make_share(pair)
    for device in pair:
        with (device.home / "config.toml").open("a") as config:
            config.write(f'\n[apps]\nport = 0\nallowed_origins = ["{site}"]\n')
    return pair


def test_a_page_in_chromium_edits_a_file_live_across_two_daemons(
    pair: list[Device], site: str, apps: list[NodeApp]
) -> None:
    alice, bob = pair
    _a, b = text_apps(pair, apps, "hello\n")
    where = doc_url(alice, "notes.txt")

    # The same page from another origin (localhost is not 127.0.0.1) is refused at the
    # handshake: it never syncs, and what is typed in it reaches no file.
    stranger = BrowserApp(where, site.replace("127.0.0.1", "localhost") + "/")
    apps.append(stranger)
    stranger.until(lambda seen: len(seen["closes"]) >= 1, "the stranger's connection refused")
    assert any("403" in message for message in stranger.seen["console"]), stranger.seen
    stranger.send(op="type", at=0, text="not allowed\n")

    # Typed in the page on alice's daemon: in the doc, in the textarea, in bob's file.
    page = BrowserApp(where, site + "/")
    apps.append(page)
    page.until(lambda seen: seen["synced"] and seen["textarea"] == "hello\n", "a synced page")
    page.send(op="type", at=6, text="typed in chromium\n")
    typed = "hello\ntyped in chromium\n"
    page.until(lambda seen: seen["text"] == seen["textarea"] == typed, "the typing in the doc")
    wait_for(lambda: read(bob.folder / "notes.txt") == typed, "the page's typing in bob's file")
    wait_for(lambda: read(alice.folder / "notes.txt") == typed, "the typing in alice's file")

    # Presence: the page's cursor (after what it typed) is seen by the Node app on bob,
    # and the Node app's state by the page.
    cursor = {"user": {"name": "chromium"}, "cursor": {"anchor": len(typed), "head": len(typed)}}
    page_id = str(page.seen["client"])
    b.until(lambda seen: seen["others"].get(page_id) == cursor, "the page's cursor at bob")
    b.send(op="aware", state={"user": {"name": "bob"}})
    page.until(lambda seen: {"user": {"name": "bob"}} in seen["others"].values(),
               "bob's presence in the page")  # fmt: skip

    # Bob's save reaches the page as an edit: the caret keeps its place in the text.
    saved = "saved by bob\n" + typed
    (bob.folder / "notes.txt").write_text(saved)
    page.until(lambda seen: seen["text"] == seen["textarea"] == saved, "bob's save in the page")
    assert page.seen["caret"] == len(saved)
    b.until(lambda seen: seen["others"].get(page_id, {}).get("cursor") == {
        "anchor": len(saved), "head": len(saved)}, "the moved cursor at bob")  # fmt: skip

    # The refused page typed into its own doc only.
    stranger.until(lambda seen: seen["textarea"] == "not allowed\n", "the stranger's typing")
    assert not stranger.seen["synced"]
    for device in pair:
        assert read(device.folder / "notes.txt") == saved
    assert page.seen["console"] == [], "the page logged errors"
