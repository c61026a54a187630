"""Thousands of hostile frames and updates from an authenticated member against a live
daemon (a subprocess) that keeps syncing with an honest peer meanwhile.

Each malformed frame gets its own connection (the daemon drops a peer at its first bad
frame, so later frames on the same connection would never be read). The daemon must
stay up, close every such connection, keep converging with the honest peer, and
change nothing on disk because of the junk.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pycrdt
import pytest

from p2psync.protocol.messages import Update
from p2psync.protocol.yjs_update import scan_update
from p2psync.storage import DocLog
from p2psync.storage.layout import docs_dir
from tests.support.daemons import wait_for
from tests.support.hostile import (
    FeedReport,
    Scene,
    folder_digest,
    frame_of,
    scene_at,
    without_honest_edits,
)
from tests.support.junk import malformed_frames, mutate
from tests.support.updates import text_updates

FRAMES = 10_000
UPDATES = 10_000
SEED = 6
EDIT_EVERY_S = 5.0
FEED_TIMEOUT_S = 1200  # 10,000 TLS sessions one after another: minutes on 2 busy cores


def feed_while_bob_edits(scene: Scene, batches: list[bytes]) -> tuple[FeedReport, str]:
    """Feed ``batches`` to alice from mallory while bob keeps editing notes.md; return
    the report and the text bob ended with."""
    reports: list[FeedReport] = []
    feeder = threading.Thread(
        target=lambda: reports.append(
            scene.mallory.feed(scene.alice.address, scene.alice_id, batches, parallel=1)
        )
    )
    feeder.start()
    edits = 0
    while feeder.is_alive():
        edits += 1
        scene.bob.apply_text("notes.md", f"bob {edits}. ", client_id=100 + edits)
        feeder.join(timeout=EDIT_EVERY_S)
    expected = scene.bob.text("notes.md")
    assert expected is not None
    assert edits >= 2  # the honest pair really synced during the fuzz
    wait_for(lambda: scene.alice.text("notes.md") == expected, "alice converging with bob")
    return reports[0], expected


def logs_are_clean(folder: Path) -> None:
    """Every record of every log is a safe Yjs v1 update, and the logs load."""
    for path in docs_dir(folder).glob("*.ylog"):
        opened = DocLog.open(path)
        opened.log.close()
        assert opened.recovery is None
        doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
        for update in opened.updates:
            scan_update(update)
            doc.apply_update(update)


@pytest.mark.timeout(FEED_TIMEOUT_S)
@pytest.mark.slow
def test_ten_thousand_malformed_frames(tmp_path: Path) -> None:
    with scene_at(tmp_path) as scene:
        updates, _ = text_updates(30, client_id=7)
        rng = random.Random(SEED)
        guids = ["notes.md", "other.md"]
        # A length over the limit backs mallory off (hostile/test_resources.py): here
        # every frame is to reach the parser.
        frames = list(
            malformed_frames(rng, scene.share.raw, guids, updates, FRAMES, over_the_limit=False)
        )
        before = folder_digest(scene.alice.folder)

        report, _ = feed_while_bob_edits(scene, frames)

        assert scene.alice_alive()
        assert report.refused == 0
        assert report.left_open == 0  # every malformed frame ended its connection
        assert report.closed_by_daemon == FRAMES
        after = folder_digest(scene.alice.folder)
        assert set(after) == set(before)  # no new file: no doc, no quarantine
        folder = scene.alice.folder
        assert without_honest_edits(after, folder) == without_honest_edits(before, folder)
        logs_are_clean(scene.alice.folder)


@pytest.mark.timeout(FEED_TIMEOUT_S)
@pytest.mark.slow
def test_ten_thousand_mutated_updates(tmp_path: Path) -> None:
    """Mutations of real updates to the live doc itself, where a panic would poison it."""
    with scene_at(tmp_path) as scene:
        base = scene.alice.export("notes.md")
        assert base is not None
        doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=1)  # alice's own client
        doc.apply_update(base)
        text = doc.get("content", type=pycrdt.Text)
        real: list[bytes] = []
        doc.observe(lambda event: real.append(event.update))
        for i in range(200):
            text.insert(len(text) if i % 3 else 0, f"m{i} ")
            if i % 7 == 0:
                del text[0:2]
        rng = random.Random(SEED)
        share = scene.share.raw
        mutants = [mutate(rng, rng.choice(real), real) for _ in range(UPDATES)]
        # A few per frame: a frame stops at its first bad update, the rest are not read.
        per_frame = 4
        batches = [
            b"".join(frame_of(Update(share, "notes.md", [u])) for u in mutants[i : i + per_frame])
            for i in range(0, UPDATES, per_frame)
        ]

        report, _ = feed_while_bob_edits(scene, batches)

        assert scene.alice_alive()
        assert report.closed_by_daemon > len(batches) // 2  # most carried a bad update
        log = (scene.alice.home / "daemon.log").read_text()
        logged = log.count(f"disconnecting {scene.mallory.id.short()}: doc notes.md")
        assert logged > len(batches) // 2  # each drop is logged with its reason
        quarantine = scene.alice.folder / ".p2psync" / "quarantine"
        assert not quarantine.exists() or not any(quarantine.iterdir())  # no panic got in
        logs_are_clean(scene.alice.folder)
        # What alice holds is what its log holds, and what bob holds.
        wait_for(lambda: scene.bob.text("notes.md") == scene.alice.text("notes.md"), "convergence")
        scene.alice.stop()
        scene.alice.start()
        assert scene.alice.text("notes.md") == scene.bob.text("notes.md")
