"""Commands and API methods that act on running daemons: pause and resume, events,
``hello``, and the progress of ``wait-idle``."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.ids import ShareId
from p2psync.protocol.connection import SUPPORTED_VERSIONS
from tests.support.daemons import DEADLINE_S, Device, cli, link, wait_for
from tests.support.interrupts import interruptible, killed_on_exit


def connected(device: Device) -> bool:
    return bool(device.status()["connected"])


class Events:
    """A subscription to a daemon's event stream, read in a thread."""

    def __init__(self, device: Device) -> None:
        self._client = ControlClient(Home.resolve(device.home).socket_path)
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        stream = self._client.events()
        next_event = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        next_event.start()

    def _pump(self, stream: Iterator[dict[str, Any]]) -> None:
        for event in stream:
            self._queue.put(event)

    def expect(self, type_: str, **fields: Any) -> dict[str, Any]:
        """The next event of ``type_`` with ``fields`` (others are skipped); fails
        after the deadline."""
        while True:
            event = self._queue.get(timeout=DEADLINE_S)
            if event["type"] == type_ and all(event.get(k) == v for k, v in fields.items()):
                return event

    def close(self) -> None:
        self._client.close()


def test_hello_names_the_versions_and_methods(pair: tuple[Device, Device]) -> None:
    alice, _ = pair
    with ControlClient(Home.resolve(alice.home).socket_path) as client:
        hello = client.call("hello")
    assert hello["api_version"] == 1
    assert hello["device_id"] == alice.id
    assert {"status", "peers", "pause", "resume", "compact", "subscribe"} <= set(hello["methods"])
    assert set(hello["methods"]) - {"subscribe"} <= documented_methods()


def documented_methods() -> set[str]:
    """Method names in the methods table of docs/control-api.md."""
    spec = (Path(__file__).parents[3] / "docs" / "control-api.md").read_text()
    table = spec.split("## Methods", 1)[1].split("\n#", 1)[0]  # up to the next heading
    return set(re.findall(r"^\| `([a-z.]+)` \|", table, flags=re.MULTILINE))


def test_events_pause_and_resume(pair: tuple[Device, Device]) -> None:
    alice, bob = pair
    events = Events(alice)
    try:
        link([alice, bob])
        up = events.expect("peer-connected")
        assert (up["device"], up["protocol_version"]) == (bob.id, max(SUPPORTED_VERSIONS))
        assert up["address"].startswith("127.0.0.1:")
        assert up["name"] == bob.status()["name"]
        alice.apply_text("notes.md", "one", client_id=3)
        in_sync = events.expect("share-in-sync", docs=1)
        assert in_sync["members"] == [bob.id]

        paused = cli(alice.home, "pause")
        assert paused.stdout.startswith("paused")
        events.expect("paused")
        down = events.expect("peer-disconnected")
        assert down["device"] == bob.id
        wait_for(lambda: not connected(alice) and not connected(bob), "both sides to let go")
        status = alice.status()
        assert (status["state"], status["paused"]) == ("paused", True)
        assert status["shares"][-1]["members"][0]["state"] == "paused"
        assert "State   paused" in cli(alice.home, "status").stdout
        alice.apply_text("notes.md", " two", client_id=3)  # kept while paused
        assert not connected(bob)  # no connection: nothing can have been exchanged
        assert bob.text("notes.md") == "one"

        assert json.loads(cli(alice.home, "resume", "--json").stdout) == {"paused": False}
        events.expect("resumed")
        events.expect("peer-connected")
        wait_for(lambda: bob.text("notes.md") == "one two", "the change made while paused")
        assert alice.status()["state"] in ("up-to-date", "syncing")
    finally:
        events.close()


def test_wait_idle_prints_progress_lines_on_stderr_only(pair: tuple[Device, Device]) -> None:
    alice, bob = pair
    link([alice, bob])
    result = cli(alice.home, "wait-idle", "--min-peers", "1")
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "100% in sync with 1 connected peer(s)"
    assert "Traceback" not in result.stderr
    quiet = cli(alice.home, "wait-idle", "--min-peers", "1", "--quiet")
    assert (quiet.stdout, quiet.stderr) == ("", "")


def test_wait_idle_times_out_with_exit_1(pair: tuple[Device, Device]) -> None:
    alice, _ = pair  # not linked: the peer never connects
    result = cli(alice.home, "wait-idle", "--min-peers", "1", "--timeout", "0.3", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "p2psync: not in sync after 0.3 s"
    assert "waiting for peers (0/1 connected)" in result.stderr


def test_wait_idle_for_one_share(pair: tuple[Device, Device]) -> None:
    alice, bob = pair
    share = alice.status()["shares"][-1]["id"]
    alone = cli(alice.home, "wait-idle", "--share", share, "--timeout", "0.2", check=False)
    assert alone.returncode == 1  # no member connected: not in sync yet
    assert "waiting for peers (0/1 connected)" in alone.stderr
    link([alice, bob])
    alice.apply_text("notes.md", "first", client_id=4)
    assert cli(bob.home, "wait-idle", "--share", share).returncode == 0
    assert bob.text("notes.md") == "first"
    other = cli(bob.home, "wait-idle", "--share", str(ShareId.new()), check=False)
    assert other.returncode == 2  # as for any share this device lacks, daemon or not
    assert "this device has no share" in other.stderr


def test_events_command_prints_one_json_object_per_line(pair: tuple[Device, Device]) -> None:
    alice, bob = pair
    command = [sys.executable, "-m", "p2psync", "--home", str(alice.home), "events", "--json"]
    with (
        subprocess.Popen(
            interruptible(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as started,
        killed_on_exit(started) as follow,
    ):
        stdout = follow.stdout
        assert stdout is not None
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:  # readline has no deadline: a thread reads, the test waits
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()

        def subscribed() -> bool:  # an event only a live subscription can have printed
            cli(alice.home, "pause")
            cli(alice.home, "resume")
            return not lines.empty()

        wait_for(subscribed, "the events command to subscribe")
        link([alice, bob])
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["type"] != "peer-connected":
            seen.append(json.loads(lines.get(timeout=DEADLINE_S)))
        assert seen[-1]["device"] == bob.id
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=DEADLINE_S) == 130


def test_closing_the_client_ends_an_event_loop_in_another_thread(
    pair: tuple[Device, Device],
) -> None:
    alice, _ = pair
    client = ControlClient(Home.resolve(alice.home).socket_path)
    receiving, ended = threading.Event(), threading.Event()

    def follow() -> None:
        for _ in client.events():
            receiving.set()
        ended.set()

    def publish_an_event() -> bool:
        cli(alice.home, "pause")
        cli(alice.home, "resume")
        return receiving.is_set()

    threading.Thread(target=follow, daemon=True).start()
    wait_for(publish_an_event, "the thread to receive events")
    client.close()
    assert ended.wait(timeout=DEADLINE_S)
    assert alice.status()["name"]  # the daemon does not mind


@contextlib.contextmanager
def in_folder(device: Device, folder: Path) -> Iterator[Device]:
    """``device`` with its doc helpers pointed at another share's ``folder``."""
    usual, device.folder = device.folder, folder
    try:
        yield device
    finally:
        device.folder = usual


def test_pausing_one_share_leaves_the_others_syncing(pair: tuple[Device, Device]) -> None:
    alice, bob = pair
    first = alice.status()["shares"][-1]["id"]
    second = cli(alice.home, "share", "add", str(alice.home / "second"), "--create").stdout.strip()
    cli(bob.home, "share", "add", str(bob.home / "second"), "--id", second, "--create")
    cli(alice.home, "share", "member", "add", second, bob.id)
    cli(bob.home, "share", "member", "add", second, alice.id)
    link([alice, bob])
    wait_for(lambda: connected(alice), "the link")

    assert cli(alice.home, "pause", first).stdout.startswith(f"paused share {first}")
    shares = {s["id"]: s for s in alice.status()["shares"]}
    assert (shares[first]["paused"], shares[second]["paused"]) == (True, False)
    assert shares[first]["members"][0]["state"] == "paused"
    wait_for(lambda: connected(alice), "the link to come back without the paused share")
    alice.apply_text("a.md", "from alice", client_id=11)
    bob.apply_text("b.md", "from bob", client_id=12)
    with in_folder(alice, alice.home / "second"), in_folder(bob, bob.home / "second"):
        alice.apply_text("c.md", "alice, second share", client_id=11)
        bob.apply_text("d.md", "bob, second share", client_id=12)
        wait_for(lambda: bob.text("c.md") is not None, "the second share to sync")
        wait_for(lambda: alice.text("d.md") is not None, "the second share to sync back")
    # Sent before the second share's docs on the same connection, had they been sent:
    assert bob.text("a.md") is None
    assert alice.text("b.md") is None

    resumed = cli(alice.home, "resume").stdout  # not that share: it is paused on its own
    assert resumed.splitlines() == [
        "resumed all sync traffic",
        f"still paused: share {first} (until 'p2psync resume SHARE')",
    ]
    assert json.loads(cli(alice.home, "resume", first, "--json").stdout)["paused"] is False
    wait_for(lambda: bob.text("a.md") == "from alice", "alice's doc after resume")
    wait_for(lambda: alice.text("b.md") == "from bob", "bob's doc after resume")
    assert not alice.status()["shares"][-2]["paused"]
