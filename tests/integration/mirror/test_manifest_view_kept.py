"""The manifest's entries kept by a stop in order (``mirror.viewcache``): the next
start's first read takes them without loading the manifest doc when it is still at
their version, and reads the doc when it is not, or when the file is damaged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from p2psync.mirror.engine import Mirror, wall_ms
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.manifest import MANIFEST_GUID, ManifestView, read_entries, set_fields
from p2psync.mirror.viewcache import view_file
from tests.support.mirror import Store, make_mirror


def taken_in(root: Path) -> tuple[Mirror, Store]:
    """A mirror that took in a few files and kept its view for the next start."""
    mirror, store, _ = make_mirror(root)
    for n in range(5):
        (root / f"f{n}.txt").write_text(f"file {n}\n")

    async def main() -> None:
        await mirror.local_changes([f"f{n}.txt" for n in range(5)])
        await mirror.flush()

    trio.run(main)
    assert mirror.keeper.save_view()
    return mirror, store


def started_again(root: Path, store: Store) -> Mirror:
    """The next start's mirror on the same docs, after its first read of the manifest."""
    store.read.clear()
    mirror = Mirror(root, store, HybridClock(b"device", wall_ms), lambda *a, **k: None, "s")
    mirror.read_manifest()
    return mirror


def whole_read(mirror: Mirror, store: Store) -> ManifestView:
    entries, _ = read_entries(store.docs[MANIFEST_GUID].ydoc)
    return ManifestView.of(entries, mirror.keeper.view.key)


def test_a_start_takes_the_kept_entries_without_loading_the_manifest(tmp_path: Path) -> None:
    _, store = taken_in(tmp_path)
    again = started_again(tmp_path, store)
    assert MANIFEST_GUID not in store.read
    assert len(again.view.by_path) == 5
    assert again.view == whole_read(again, store)


def test_a_manifest_changed_since_is_read_from_its_doc(tmp_path: Path) -> None:
    mirror, store = taken_in(tmp_path)
    guid = mirror.view.by_path["f0.txt"].guid

    def rename(doc: Any) -> None:
        with doc.transaction():
            set_fields(doc, guid, path="renamed.txt")

    store.docs[MANIFEST_GUID].local_edit(rename)  # a peer's change, received while down
    again = started_again(tmp_path, store)
    assert MANIFEST_GUID in store.read
    assert again.view.by_path["renamed.txt"].guid == guid
    assert again.view == whole_read(again, store)


def test_a_damaged_kept_view_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _, store = taken_in(tmp_path)
    kept = view_file(tmp_path)
    kept.write_bytes(kept.read_bytes()[:-4])
    again = started_again(tmp_path, store)
    assert MANIFEST_GUID in store.read
    assert again.view == whole_read(again, store)
    assert "damaged manifest view" in caplog.text
