"""Resource exhaustion by an authenticated member against a live daemon: updates whose
dependencies never arrive, a flood of tiny updates, one huge frame, thousands of new
doc IDs. Memory stays bounded, limits end in a disconnect with a backoff, and the
honest pair keeps syncing."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import msgpack
import pycrdt
import trio

from p2psync.net.transport import HandshakeError
from p2psync.protocol.frames import MAX_FRAME_BYTES
from p2psync.protocol.messages import Update
from p2psync.protocol.yjs import _varuint as varuint
from p2psync.replica.inbound import MAX_DROPPED_NEW_DOCS, MAX_UNASKED_NEW_DOCS
from p2psync.storage.layout import docs_dir
from tests.support.daemons import cli, wait_for
from tests.support.hostile import Scene, frame_of

RSS_GROWTH_LIMIT = 64 * 1024 * 1024


def rss_bytes(scene: Scene) -> int:
    assert scene.alice.process is not None
    status = Path(f"/proc/{scene.alice.process.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


def alice_syncs_with_bob(scene: Scene, text: str, client_id: int) -> None:
    expected = (scene.alice.text("notes.md") or "") + text
    scene.bob.apply_text("notes.md", text, client_id=client_id)
    wait_for(lambda: scene.alice.text("notes.md") == expected, "bob's edit at alice")


def assert_backed_off(scene: Scene) -> None:
    """Mallory, just disconnected with a penalty, is refused at once if it reconnects."""
    try:
        trio.run(scene.mallory.connect, scene.alice.address, scene.alice_id)
    except HandshakeError as refused:
        assert refused.code == "backoff"
    else:
        raise AssertionError("mallory got back in during its backoff")


def typed_updates(count: int, client_id: int, base: bytes) -> list[bytes]:
    """``count`` real one-character updates by a new client on top of ``base``."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=client_id)
    doc.apply_update(base)
    text = doc.get("content", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for _ in range(count):
        text.insert(len(text), "z")
    return updates


def test_gaps_and_floods_keep_memory_bounded(scene: Scene) -> None:
    share = scene.share.raw
    base = scene.alice.export("notes.md")
    assert base is not None
    start_rss = rss_bytes(scene)
    # 20,000 updates of 1 KiB by client 4242, whose first clocks never arrive.
    text = b"\x04\x01\x07content" + varuint(1000) + b"y" * 1000 + b"\x00"
    gap_frames = [
        frame_of(Update(share, "notes.md", [b"\x01\x01\xd2\x21" + varuint(clock) + text]))
        for clock in range(1000, 21000)
    ]
    # 5,000 tiny valid updates, one per frame: they integrate, as a member's edits do.
    tiny = [frame_of(Update(share, "notes.md", [u])) for u in typed_updates(5000, 777, base)]
    report = scene.mallory.feed(
        scene.alice.address, scene.alice_id, [b"".join(gap_frames) + b"".join(tiny)]
    )
    assert report.closed_by_daemon + report.left_open == 1
    wait_for(lambda: (scene.alice.text("notes.md") or "").endswith("z" * 5000), "the tiny edits")
    assert rss_bytes(scene) - start_rss < RSS_GROWTH_LIMIT  # the 20 MB of gaps were dropped
    # Bob gets every edit alice took in (forwarded, or asked for after her index), also
    # those she took after mallory's link ended; only then does he edit the text's end.
    wait_for(lambda: scene.bob.text("notes.md") == scene.alice.text("notes.md"), "the z's at bob")
    alice_syncs_with_bob(scene, "after the flood. ", 2)
    wait_for(lambda: scene.bob.text("notes.md") == scene.alice.text("notes.md"), "bob too")


def test_one_huge_frame_is_refused_before_it_is_read(scene: Scene) -> None:
    huge = struct.pack(">I", MAX_FRAME_BYTES + 1) + b"\x00" * 65536
    report = scene.mallory.feed(scene.alice.address, scene.alice_id, [huge])
    assert report.goodbyes == {"frame-too-large": 1}
    log = (scene.alice.home / "daemon.log").read_text()
    assert f"the peer announced a frame of {MAX_FRAME_BYTES + 1} bytes" in log
    alice_syncs_with_bob(scene, "after the huge frame. ", 3)


def test_thousands_of_new_doc_ids_end_in_a_backoff(scene: Scene) -> None:
    share = scene.share.raw
    docs_before = len(list(docs_dir(scene.alice.folder).glob("*.ylog")))
    frames = []
    for i in range(MAX_UNASKED_NEW_DOCS + MAX_DROPPED_NEW_DOCS + 50):
        doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=10_000 + i)
        doc.get("content", type=pycrdt.Text).insert(0, "spam")
        frames.append(frame_of(Update(share, f"spam/{i}.md", [doc.get_update()])))
    report = scene.mallory.feed(scene.alice.address, scene.alice_id, [b"".join(frames)])
    assert report.closed_by_daemon == 1
    wait_for(
        lambda: (
            len(list(docs_dir(scene.alice.folder).glob("*.ylog")))
            == docs_before + MAX_UNASKED_NEW_DOCS
        ),
        "the docs alice accepted to be stored",
    )

    def mallory_error() -> str:
        peers = json.loads(cli(scene.alice.home, "peers", "--json").stdout)["peers"]
        return str(next(p["last_error"] for p in peers if p["device_id"] == str(scene.mallory.id)))

    assert "new docs" in mallory_error()
    assert "refused for 5 s" in mallory_error()
    assert_backed_off(scene)
    alice_syncs_with_bob(scene, "after the spam. ", 4)


def test_a_frame_over_the_limit_ends_in_a_reported_backoff(scene: Scene) -> None:
    # What a version that does not split large docs sends: an s2 of a 20 MB doc. The
    # daemon refuses it after the first bytes, so only those are written.
    header = msgpack.packb({"t": "s2", "s": scene.share.raw, "d": "big.txt"}, use_bin_type=True)
    body_start = b"\x84" + header[1:] + b"\xa1u\xc6" + struct.pack(">I", 20_709_400)
    frame = struct.pack(">I", 20_709_427) + body_start + b"x" * 4096
    report = scene.mallory.feed(scene.alice.address, scene.alice_id, [frame])
    assert report.goodbyes == {"frame-too-large": 1}
    assert_backed_off(scene)  # so a peer that would send it again cannot storm
    status = scene.alice.status()
    assert status["state"] == "failing"
    share = next(s for s in status["shares"] if s["id"] == str(scene.share))
    member = next(m for m in share["members"] if m["device_id"] == str(scene.mallory.id))
    assert member["state"] == "failing"
    error = member["error"]
    assert (error["code"], error["share"], error["doc"]) == (
        "frame-too-large",
        share["id"],
        "big.txt",
    )
    assert scene.mallory.id.short() in error["message"]
    assert "over the frame limit" in error["message"]
    assert error["retry_at"] > error["time"]
    # The share lists what does not sync, and why.
    assert not share["in_sync"]
    assert {"path": "big.txt", "kind": "link-failing", "reason": error["message"]} in share[
        "not_in_sync"
    ]
    # The share's recent errors (the ``error`` event) name the peer, the doc and why.
    event = next(e for e in share["errors"] if e.get("code") == "frame-too-large")
    assert (event["device"], event["doc"]) == (str(scene.mallory.id), "big.txt")
    assert "refused for 5 s" in event["message"]
    human = cli(scene.alice.home, "status").stdout
    assert "Failing links:" in human
    assert f"{scene.mallory.id.short()}" in human.split("Failing links:")[1]
    peers = json.loads(cli(scene.alice.home, "peers", "--json").stdout)["peers"]
    row = next(p for p in peers if p["device_id"] == str(scene.mallory.id))
    assert row["failure"]["code"] == "frame-too-large"
    alice_syncs_with_bob(scene, "after the oversized frame. ", 5)
