"""An authenticated member sending hostile messages to a live daemon: it is
disconnected, the daemon keeps serving the honest peers, nothing on disk changes."""

from __future__ import annotations

from p2psync.mirror.records import record_file
from p2psync.protocol.messages import SyncStep1, Update
from tests.support.daemons import wait_for
from tests.support.hostile import Scene, folder_digest, frame_of


def test_a_doc_guid_with_control_characters_is_refused_not_fatal(scene: Scene) -> None:
    before = folder_digest(scene.alice.folder)
    share = scene.share.raw
    report = scene.mallory.feed(scene.alice.address, scene.alice_id, [
        frame_of(Update(share, "\x00bad", [b"\x00\x00"])),
        frame_of(SyncStep1(share, "a\nb", b"\x00")),
    ], parallel=1)  # fmt: skip
    assert report.closed_by_daemon == 2
    assert scene.alice_alive()
    scene.bob.apply_text("notes.md", "still syncing. ", client_id=2)
    wait_for(lambda: scene.alice.text("notes.md") == "honest text. still syncing. ", "bob's edit")
    after = folder_digest(scene.alice.folder)
    # Bob's honest edit changes its doc's log, the mirrored file and the mirror's
    # record of it; nothing else may change.
    record = str(record_file(scene.alice.folder, "notes.md").relative_to(scene.alice.folder))
    honest = ("notes.md", ".p2psync/mirror.json", record)
    assert {k: v for k, v in after.items() if "docs" not in k and k not in honest} == {
        k: v for k, v in before.items() if "docs" not in k and k not in honest
    }
    assert set(after) == set(before)  # no new doc log, no new file
