"""``p2psync demo``: two real daemons on loopback syncing one share, for a first look.

Everything lives in a temporary directory: two device homes (Alice and Bob), each
with its own folder of the same share. Both daemons run as subprocesses listening
on free loopback ports; they learn each other's address through the control API
(``peer.add``), so the demo drives the daemons exactly as the CLI and GUI do. Alice
writes a text document, Bob sees it arrive; both then edit it at once and the
merged text appears on both sides. The peers tables of both sides are printed, then
the daemons are stopped and the directory removed (also on Ctrl-C or an error).

Text documents are changed with Yjs updates (``doc.apply``), the way any Yjs editor
talks to p2psync; plain files in the folders are not mirrored by this demo.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pycrdt

from p2psync.cli.context import Context
from p2psync.cli.statusview import format_peers
from p2psync.config import Config, Member, PeerConfig, ShareConfig, save_config
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import DaemonNotRunningError, P2PSyncError
from p2psync.ids import DeviceId, ShareId
from p2psync.net.identity import load_or_create_identity
from p2psync.storage.layout import guid_for_file

DEMO_DEADLINE_S = 30.0
POLL_S = 0.05
STOP_TIMEOUT_S = 10.0
TEXT_KEY = "content"  # the Y.Text every demo document keeps its text in
DOC_NAME = "hello.txt"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("demo", help="two local daemons syncing a share, for a look")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.set_defaults(func=run)


class DemoDevice:
    """One device of the demo: a home, a share folder and a daemon subprocess."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.home = Home.resolve(root / name.lower())
        self.home.ensure()
        self.folder = root / f"{name.lower()}-folder"
        self.folder.mkdir()
        self.id: DeviceId = load_or_create_identity(self.home.identity_dir).device_id
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def configure(self, share: ShareId, other: DeviceId) -> None:
        """The demo share with ``other`` as its member; loopback only, no mDNS."""
        share_config = ShareConfig(share, self.folder.resolve(), (Member(other),))
        config = Config(self.name, "127.0.0.1:0", mdns=False, peers=(PeerConfig(other),),
                        shares=(share_config,))  # fmt: skip
        save_config(self.home.config_path, config)

    def start(self) -> None:
        log = (self.home.root / "daemon.log").open("ab")
        with log:  # our own interpreter and package: no untrusted input
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "p2psync", "--home", str(self.home.root), "run"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops us
            )  # fmt: skip

    def wait_ready(self) -> None:
        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise P2PSyncError(f"{self.name}'s daemon exited; see {self.home.root}/daemon.log")
            try:
                self.address = self.call("status")["listen"]
            except DaemonNotRunningError:
                return False
            return True

        wait_for(answers, f"{self.name}'s daemon to start")

    def call(self, method: str, **params: Any) -> Any:
        with ControlClient(self.home.socket_path, timeout_s=DEMO_DEADLINE_S) as client:
            return client.call(method, **params)

    def text(self, share: ShareId) -> str | None:
        """The demo document's text, or None while this device does not have it."""
        try:
            reply = self.call("doc.export", share=str(share), doc=self.guid)
        except P2PSyncError:
            return None
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        doc.apply_update(base64.b64decode(reply["update"]))
        return str(doc.get(TEXT_KEY, type=pycrdt.Text))

    def edit(self, share: ShareId, index: int | None, words: str, client_id: int) -> str:
        """A Yjs update (base64) inserting ``words`` at ``index`` (None: the end) into
        this device's copy as it is now; ``apply`` makes it a local change."""
        doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
        with contextlib.suppress(P2PSyncError):
            state = self.call("doc.export", share=str(share), doc=self.guid)["update"]
            doc.apply_update(base64.b64decode(state))
        before = doc.get_state()
        text = doc.get(TEXT_KEY, type=pycrdt.Text)
        text.insert(len(text) if index is None else index, words)
        return base64.b64encode(doc.get_update(before)).decode()

    def apply(self, share: ShareId, update: str) -> None:
        self.call("doc.apply", share=str(share), doc=self.guid, update=update)

    @property
    def guid(self) -> str:
        return guid_for_file(self.folder.resolve(), self.folder.resolve() / DOC_NAME)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_for(condition: Callable[[], bool], what: str) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took. Raises
    P2PSyncError after DEMO_DEADLINE_S."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > DEMO_DEADLINE_S:
            raise P2PSyncError(f"the demo timed out waiting for {what}")
        time.sleep(POLL_S)
    return time.monotonic() - start


@contextlib.contextmanager
def demo_devices(keep: bool) -> Iterator[tuple[DemoDevice, DemoDevice, Path]]:
    """Alice and Bob in a fresh temporary directory; stopped and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="p2psync-demo-"))
    devices: list[DemoDevice] = []
    try:
        devices = [DemoDevice(root, "Alice"), DemoDevice(root, "Bob")]
        yield devices[0], devices[1], root
    finally:
        for device in devices:
            device.stop()
        if keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace, ctx: Context) -> int:
    with demo_devices(args.keep) as (alice, bob, root):
        share = ShareId.new()
        alice.configure(share, bob.id)
        bob.configure(share, alice.id)
        say(f"Two devices in {root}:")
        for device in (alice, bob):
            say(f"  {device.name:5}  {device.id}  folder {device.folder.name}/")
        for device in (alice, bob):
            device.start()
        for device in (alice, bob):
            device.wait_ready()
        say(f"Daemons listening on {alice.address} (Alice) and {bob.address} (Bob).")
        alice.call("peer.add", device=str(bob.id), address=bob.address)
        bob.call("peer.add", device=str(alice.id), address=alice.address)
        took = wait_for(lambda: bool(alice.call("status")["connected"]), "the peers to connect")
        say(f"Connected over TLS after {took:.1f} s.")

        alice.apply(share, alice.edit(share, None, "Hello from Alice.", client_id=1))
        say(f"Alice writes {DOC_NAME}: 'Hello from Alice.'")
        took = wait_for(lambda: bob.text(share) is not None, f"{DOC_NAME} to reach Bob")
        say(f"Bob has it {took * 1000:.0f} ms later: {bob.text(share)!r}")

        say("Both edit the same text at once: Alice appends, Bob inserts at the start.")
        from_alice = alice.edit(share, None, " Bye!", client_id=1)
        from_bob = bob.edit(share, 0, "Bob was here. ", client_id=2)  # neither saw the other
        alice.apply(share, from_alice)
        bob.apply(share, from_bob)
        took = wait_for(lambda: alice.text(share) == bob.text(share) and " Bye!" in
                        (bob.text(share) or "") and "Bob" in (alice.text(share) or ""),
                        "the edits to merge")  # fmt: skip
        say(f"Merged on both sides in {took * 1000:.0f} ms: {alice.text(share)!r}")
        wait_for(lambda: bool(alice.call("idle")["idle"] and bob.call("idle")["idle"]), "sync")
        for device in (alice, bob):
            say(f"\nWhat {device.name} sees (p2psync peers):")
            say(format_peers(device.call("peers")))
        gone = "" if args.keep else " and removing the temporary directory"
        say(f"\nStopping both daemons{gone}.")
    return 0
