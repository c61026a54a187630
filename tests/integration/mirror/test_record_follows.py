"""A file whose record names an entry a peer moved and deleted, looked at before the
mirror carried out that change on disk (a batch under way when the peer's manifest
change arrived): it follows its doc as the change says, never becomes a second doc.

A soak saw it: a device restarted with a save of the file at its old name, while one
peer had renamed the file and another deleted it; the save was merged into the doc,
then the file at the old name was taken in as a new doc, and the text lived on in two
files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pycrdt
import pytest
import trio
from trio.testing import MockClock

from p2psync.mirror.engine import Mirror
from p2psync.mirror.manifest import MANIFEST_GUID, read_entries, set_fields
from tests.support.mirror import Store, make_mirror

TEXT = "line one\nline two\nline three\n"


def entries(store: Store) -> dict[str, tuple[str, bool]]:
    """Manifest entries: guid -> (path, deleted)."""
    found, _ = read_entries(store.docs[MANIFEST_GUID].ydoc)
    return {e.guid: (e.path, e.deleted) for e in found.values()}


def peer_moves_and_deletes(mirror: Mirror, store: Store, guid: str) -> None:
    """A peer's manifest change, stored but not yet carried out here: the entry is
    renamed to ``moved.md`` and deleted; the mirror's view reads it (as a change made
    in the same batch reads the manifest whole)."""
    peer: pycrdt.Doc[Any] = pycrdt.Doc(client_id=777)
    peer.apply_update(store.docs[MANIFEST_GUID].full_state())
    before = peer.get_state()
    with peer.transaction():
        set_fields(peer, guid, path="moved.md", deleted=True)
    store.docs[MANIFEST_GUID].apply(peer.get_update(before))
    mirror.keeper.reread()


@pytest.mark.parametrize("saved_here", [False, True], ids=["unchanged", "saved here"])
def test_a_file_whose_entry_a_peer_moved_and_deleted_stays_one_doc(
    tmp_path: Path, saved_here: bool
) -> None:
    mirror, store, _ = make_mirror(tmp_path)

    async def main() -> None:
        (tmp_path / "notes.md").write_text(TEXT)
        await mirror.local_changes(["notes.md"])
        await mirror.flush()
        [guid] = entries(store)
        if saved_here:
            (tmp_path / "notes.md").write_text(TEXT + "saved here meanwhile\n")
        peer_moves_and_deletes(mirror, store, guid)
        await mirror.local_changes(["notes.md"])
        await mirror.flush()
        assert list(entries(store)) == [guid]  # no second doc
        if saved_here:  # the save wins over the deletion, and the file follows the rename
            assert entries(store)[guid] == ("moved.md", False)
            assert (tmp_path / "moved.md").read_text() == TEXT + "saved here meanwhile\n"
        else:
            assert entries(store)[guid] == ("moved.md", True)
            assert not (tmp_path / "moved.md").exists()
        assert not (tmp_path / "notes.md").exists()

    trio.run(main, clock=MockClock(autojump_threshold=0))
