"""Real daemons with a 2,000-doc share (docs/storage.md): a reconnect after one doc changed
while a peer was offline costs kilobytes, the untouched docs stay unloaded, a restart
does not replay the logs, and a lost or corrupt index is rebuilt from them.

The docs are not backed by files (``scale/`` is in ``.p2psyncignore``): what is
measured is the sync layer, as an application storing its own docs would use it.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from typing import Any

import pycrdt
import pytest
import tomli_w

from p2psync.storage import format as fmt
from p2psync.storage.doclog import DocLog
from p2psync.storage.indexstore import index_path
from p2psync.storage.layout import log_path
from tests.support.daemons import Device, cli, link, make_share, start_all, wait_for
from tests.support.probes import share_status

DOCS = 2000
MAX_RECONNECT_BYTES = 64 * 1024
IDLE_UNLOAD_S = 1.0
IGNORE = "scale/\n"

pytestmark = pytest.mark.slow


def doc_update(text: str, client_id: int) -> bytes:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=client_id)
    doc.get("content", type=pycrdt.Text).insert(0, text)
    return doc.get_update()


def guid(i: int) -> str:
    return f"scale/n{i:05}.md"


def seed(device: Device, count: int) -> None:
    """Write ``count`` doc logs straight into the device's share (as another program
    would have written them before the daemon started)."""
    for i in range(count):
        path = log_path(device.folder, guid(i))
        path.parent.mkdir(parents=True, exist_ok=True)
        update = doc_update(f"note {i}\n", client_id=1_000_000 + i)
        path.write_bytes(fmt.encode_header() + fmt.encode_updates([update]))


def configure(device: Device) -> None:
    """A short idle time, so the test sees docs leave memory without waiting long."""
    config_path = device.home / "config.toml"
    config: dict[str, Any] = tomllib.loads(config_path.read_text())
    config["docs"] = {"idle_unload_s": IDLE_UNLOAD_S}
    config_path.write_text(tomli_w.dumps(config))
    device.folder.mkdir(parents=True, exist_ok=True)
    (device.folder / ".p2psyncignore").write_text(IGNORE)


def daemon_log(device: Device) -> str:
    return (device.home / "daemon.log").read_text()


def scale_docs_loaded(device: Device, mark: int = 0) -> set[str]:
    """Which of the 2,000 docs the daemon says it loaded since ``mark`` (a
    ``Device.log_mark``): what it did, not what happens to be in memory now. The
    daemon loads its own docs too (the manifest, the ignore file's)."""
    return {guid for guid in device.docs_loaded_since(mark) if guid.startswith("scale/")}


def in_sync(device: Device) -> bool:
    share = share_status(device)
    return share["docs"] >= DOCS and all(m["state"] == "in-sync" for m in share["members"])


def link_bytes(device: Device, other: Device) -> int:
    peers = json.loads(cli(device.home, "peers", "--json").stdout)["peers"]
    row = next(p for p in peers if p["device_id"] == other.id)
    total: int = row["bytes_in"] + row["bytes_out"]
    return total


def replay(device: Device, name: str) -> tuple[DocLog, pycrdt.Doc[pycrdt.Text]]:
    """The open log of doc ``name`` (close it) and its content in a scratch doc."""
    opened = DocLog.open(log_path(device.folder, name), create=False)
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    for update in opened.updates:
        doc.apply_update(update)
    return opened.log, doc


def text_in_log(device: Device, name: str) -> str:
    doclog, doc = replay(device, name)
    doclog.close()
    return str(doc.get("content", type=pycrdt.Text))


@pytest.fixture
def pair(pair: list[Device]) -> tuple[Device, Device]:
    """alice and bob holding the same 2,000 docs; both started, linked, in sync."""
    alice, bob = pair
    make_share(pair)
    for device in pair:
        configure(device)
    seed(alice, DOCS)
    # bob holds the same logs (copied, as a backup restore would): the first sync is an
    # index exchange, and the reconnect is what is measured.
    shutil.copytree(log_path(alice.folder, guid(0)).parent, log_path(bob.folder, guid(0)).parent,
                    dirs_exist_ok=True)  # fmt: skip
    start_all(pair)
    link(pair)
    wait_for(lambda: in_sync(bob) and in_sync(alice), "the first sync", 120)
    return alice, bob


def test_a_reconnect_after_one_change_costs_kilobytes_and_loads_one_doc(
    pair: tuple[Device, Device],
) -> None:
    alice, bob = pair
    # Start-up read every log (no index yet) without loading the docs.
    assert not scale_docs_loaded(alice)
    assert not scale_docs_loaded(bob)
    bob.stop()  # an orderly stop writes a clean index
    alice.apply_text(guid(1234), "changed while bob was away\n", client_id=77)
    # Bob comes back once alice is done with the change (the doc left memory again):
    # an index flush of alice's in the moment between the link coming up and bob's
    # request for her index sends him her whole index (docs/protocol.md, "The flow
    # per share"), a cost of that race, not of the reconnect measured here.
    wait_for(lambda: f"doc {guid(1234)} unloaded" in daemon_log(alice), "alice to unload it")
    mark = bob.log_mark()
    bob.start()
    started = re.findall(r"(\d+) docs from the index, (\d+) logs to read", daemon_log(bob))
    assert int(started[-1][0]) >= DOCS
    assert started[-1][1] == "0"
    # Nothing was replayed at start-up (bob may have reconnected on its own already,
    # and loaded the changed doc).
    assert scale_docs_loaded(bob, mark) <= {guid(1234)}
    link([alice, bob])
    wanted = "note 1234\nchanged while bob was away\n"
    wait_for(lambda: text_in_log(bob, guid(1234)) == wanted, "the change at bob")
    wait_for(lambda: in_sync(bob) and in_sync(alice), "the reconnect to finish")
    assert link_bytes(alice, bob) < MAX_RECONNECT_BYTES
    assert link_bytes(bob, alice) < MAX_RECONNECT_BYTES
    assert scale_docs_loaded(bob, mark) == {guid(1234)}  # the changed doc only
    assert share_status(bob)["docs"] == share_status(alice)["docs"]


def test_a_corrupt_index_is_rebuilt_from_the_logs(pair: tuple[Device, Device]) -> None:
    alice, bob = pair
    bob.stop()
    index = index_path(bob.folder)
    index.write_bytes(b"garbage" + index.read_bytes()[7:])
    # Another program appended to one log while bob was down.
    doclog, state = replay(bob, guid(7))
    with doclog:
        before = state.get_state()
        text = state.get("content", type=pycrdt.Text)
        text.insert(len(text), "appended offline\n")
        doclog.append([state.get_update(before)])
    mark = bob.log_mark()
    bob.start()
    assert "rebuilding the index from the logs" in daemon_log(bob)
    assert share_status(bob)["docs"] >= DOCS
    # Rebuilt without loading the docs (bob may have reconnected on its own already,
    # and loaded the appended doc to send it).
    assert scale_docs_loaded(bob, mark) <= {guid(7)}
    link([alice, bob])
    wanted = "note 7\nappended offline\n"
    wait_for(lambda: text_in_log(alice, guid(7)) == wanted, "the offline append at alice")
    wait_for(lambda: in_sync(bob) and in_sync(alice), "both in sync after the rebuild")
