"""Node Yjs apps for the interop tests: ``NodeApp`` runs ``tests/interop/app_client.mjs``
(or a script speaking its JSON lines, such as the browser driver) bound to a room of
a daemon's apps endpoint, and reports what it sees. The npm packages are pinned in
``tests/interop/package.json`` and installed by ``make``."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.apps import doc_url, read
from tests.support.daemons import Device, link, start_all, wait_for

INTEROP = Path(__file__).parents[1] / "interop"
CLIENT = INTEROP / "app_client.mjs"
TOOL = INTEROP / "yjs_tool.mjs"


def node() -> str:
    found = shutil.which("node")
    assert found is not None, "Node.js is required for the interop tests"
    for package in ("yjs", "y-websocket", "ws", "tinybase"):
        assert (INTEROP / "node_modules" / package).is_dir(), (
            f"run `make test` to install {package}"
        )
    return found


class NodeApp:
    """One Node app (``app_client.mjs``, or ``script`` speaking its JSON lines) bound to
    a room; ``seen`` is its latest report."""

    def __init__(self, where: dict[str, Any], mode: str = "text", script: Path = CLIENT) -> None:
        self.process = subprocess.Popen(
            [node(), str(script), json.dumps(where), mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.seen: dict[str, Any] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.seen = json.loads(line)

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def until(self, condition: Callable[[dict[str, Any]], bool], what: str) -> None:
        wait_for(lambda: bool(self.seen) and condition(self.seen), what)

    def others(self) -> dict[str, Any]:
        found: dict[str, Any] = self.seen.get("others", {})
        return found

    def close(self) -> None:
        if self.process.poll() is None:
            self.send(op="close")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def text_apps(pair: list[Device], apps: list[NodeApp], text: str) -> tuple[NodeApp, NodeApp]:
    """Alice's notes.txt holding ``text`` synced to bob, and a synced app on each."""
    alice, bob = pair
    (alice.folder / "notes.txt").write_text(text)
    start_all(pair)
    link(pair)
    wait_for(lambda: read(bob.folder / "notes.txt") == text, "the file at bob")
    made = NodeApp(doc_url(alice, "notes.txt")), NodeApp(doc_url(bob, "notes.txt"))
    apps += made
    for app in made:
        app.until(lambda seen: seen["synced"] and seen["text"] == text, "a synced app")
    return made
