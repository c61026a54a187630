"""Case-only renames and case collisions on a real case-insensitive folder (FUSE).

The mirror engine runs in this process over a ``casefold_fs`` mount, with its docs in
memory (``test_engine.Store``); the manifest changes a peer would send are made
directly in the store.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pycrdt
import pytest
import trio

from p2psync.mirror.conflicts import copy_name
from p2psync.mirror.engine import Mirror
from p2psync.mirror.manifest import (
    MANIFEST_GUID,
    read_entries,
    set_fields,
)
from p2psync.mirror.names import NameRules, probe_names
from p2psync.storage.layout import marker_dir
from tests.integration.mirror.casefold_mount import casefold_folder
from tests.support.mirror import Store, make_mirror, peer_creates

Events = list[tuple[str, dict[str, object]]]
LATER_MS = 4 * 10**12
"""A creation time after any file made here (the year 2096)."""


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """An empty case-insensitive, case-preserving folder."""
    with casefold_folder(tmp_path / "backing", tmp_path / "share") as mounted:
        yield mounted


async def start(root: Path) -> tuple[Mirror, Store, Events]:
    mirror, store, events = make_mirror(root)
    mirror.names = await trio.to_thread.run_sync(probe_names, marker_dir(root))
    return mirror, store, events


def live(store: Store) -> dict[str, str]:
    """Live manifest entries: path -> guid."""
    entries, _ = read_entries(store.docs[MANIFEST_GUID].ydoc)
    return {e.path: e.guid for e in entries.values() if not e.deleted}


async def local_file(mirror: Mirror, store: Store, rel: str, text: str) -> str:
    """A file written here and taken in by the mirror; returns its doc's guid."""
    (mirror.root / rel).parent.mkdir(parents=True, exist_ok=True)
    (mirror.root / rel).write_text(text)
    await mirror.local_changes([rel])
    return live(store)[rel]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != ".p2psync")


def hidden_copy(guid: str, name: str = "README.md") -> str:
    """The name of the copy kept of the hidden entry ``guid`` (``mirror.conflicts``)."""
    return copy_name(name, "case", guid, None)


def kept(folder: Path) -> dict[str, bytes]:
    conflicts = marker_dir(folder) / "conflicts"
    return {p.name: p.read_bytes() for p in conflicts.iterdir()} if conflicts.exists() else {}


def test_the_probe_finds_the_folder_case_insensitive(folder: Path) -> None:
    marker_dir(folder).mkdir()
    assert probe_names(marker_dir(folder)) == NameRules(fold_case=True, fold_unicode=True)
    assert (folder / "A.md").exists() is False
    (folder / "a.md").write_text("x")
    assert (folder / "A.md").read_text() == "x"  # the mount really folds


def test_a_case_only_rename_here_is_a_rename_of_the_same_doc(folder: Path) -> None:
    async def main() -> None:
        mirror, store, _ = await start(folder)
        guid = await local_file(mirror, store, "notes.md", "my notes\n")
        (folder / "notes.md").rename(folder / "Notes.md")
        await mirror.local_changes(["notes.md", "Notes.md"])  # what the watcher reports
        assert live(store) == {"Notes.md": guid}
        await mirror.rescan()
        assert live(store) == {"Notes.md": guid}
        assert store.docs[guid].text("content") == "my notes\n"
        assert names(folder) == ["Notes.md"]

    trio.run(main)


def test_a_peers_case_only_rename_changes_the_case_on_disk(folder: Path) -> None:
    async def main() -> None:
        mirror, store, events = await start(folder)
        guid = await local_file(mirror, store, "notes.md", "my notes\n")
        await store.local_edit(MANIFEST_GUID, lambda d: set_fields(d, guid, path="NOTES.md"))
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        assert names(folder) == ["NOTES.md"]
        assert (folder / "NOTES.md").read_text() == "my notes\n"
        await mirror.local_changes(["notes.md", "NOTES.md"])  # the watcher saw the rename
        await mirror.rescan()
        assert live(store) == {"NOTES.md": guid}
        assert [t for t, _ in events if t == "file-error"] == []

    trio.run(main)


def test_a_later_entry_one_file_with_an_earlier_one_is_kept_aside(folder: Path) -> None:
    async def main() -> None:
        mirror, store, events = await start(folder)
        mine = await local_file(mirror, store, "readme.md", "mine\n")
        theirs = await peer_creates(mirror, store, "README.md", "theirs\n", LATER_MS)
        await mirror.rescan()
        assert names(folder) == ["readme.md"]
        assert (folder / "readme.md").read_text() == "mine\n"
        assert kept(folder) == {hidden_copy(theirs): b"theirs\n"}
        assert live(store) == {"readme.md": mine, "README.md": theirs}  # manifest untouched
        collisions = [f for t, f in events if t == "case-collision"]
        assert collisions == [{"share": "s", "path": "README.md", "winner": "readme.md",
                               "kept": str(marker_dir(folder) / "conflicts" /
                                           hidden_copy(theirs))}]  # fmt: skip
        # A later edit of the hidden doc refreshes the kept copy.
        doc = store.docs[theirs]
        await store.local_edit(theirs, lambda d: d.get("content", type=pycrdt.Text).insert(0, "+"))
        await mirror.remote_changed({theirs: "bob"})
        assert doc.text("content") == "+theirs\n"
        assert list(kept(folder).values()) == [b"+theirs\n"]

    trio.run(main)


def test_an_earlier_entry_takes_the_file_and_the_local_one_is_kept(folder: Path) -> None:
    async def main() -> None:
        mirror, store, events = await start(folder)
        mine = await local_file(mirror, store, "readme.md", "mine\n")
        theirs = await peer_creates(mirror, store, "README.md", "theirs\n", 1)
        assert names(folder) == ["README.md"]
        assert (folder / "README.md").read_text() == "theirs\n"
        assert kept(folder) == {hidden_copy(mine, "readme.md"): b"mine\n"}
        assert live(store) == {"readme.md": mine, "README.md": theirs}
        await mirror.rescan()
        assert live(store) == {"readme.md": mine, "README.md": theirs}
        assert store.docs[mine].text("content") == "mine\n"
        assert [t for t, _ in events if t == "case-collision"] == ["case-collision"]

    trio.run(main)


def test_folders_differing_in_case_share_one_folder_and_keep_their_paths(folder: Path) -> None:
    async def main() -> None:
        mirror, store, _ = await start(folder)
        await local_file(mirror, store, "Docs/a.md", "a\n")
        b = await peer_creates(mirror, store, "docs/b.md", "b\n", LATER_MS)
        assert names(folder) == ["Docs"]
        assert names(folder / "Docs") == ["a.md", "b.md"]
        await mirror.local_changes(["Docs/b.md"])  # the watcher saw the write
        await mirror.rescan()
        assert live(store)["docs/b.md"] == b
        assert sorted(live(store)) == ["Docs/a.md", "docs/b.md"]
        # An edit here goes to the manifest's file of that name.
        (folder / "Docs" / "b.md").write_text("b, edited\n")
        await mirror.local_changes(["Docs/b.md"])
        assert store.docs[b].text("content") == "b, edited\n"

    trio.run(main)


def test_a_peers_case_only_folder_rename_changes_the_folders_case(folder: Path) -> None:
    async def main() -> None:
        mirror, store, events = await start(folder)
        a = await local_file(mirror, store, "docs/a.md", "a\n")
        b = await local_file(mirror, store, "docs/b.md", "b\n")

        def rename_folder(doc: pycrdt.Doc[Any]) -> None:
            set_fields(doc, a, path="Docs/a.md")
            set_fields(doc, b, path="Docs/b.md")

        await store.local_edit(MANIFEST_GUID, rename_folder)
        await mirror.remote_changed({MANIFEST_GUID: "bob"})
        assert names(folder) == ["Docs"]
        assert names(folder / "Docs") == ["a.md", "b.md"]
        await mirror.local_changes(["docs/a.md", "docs/b.md", "Docs/a.md", "Docs/b.md"])
        await mirror.rescan()
        assert live(store) == {"Docs/a.md": a, "Docs/b.md": b}
        assert (folder / "Docs" / "b.md").read_text() == "b\n"
        assert [t for t, _ in events if t == "file-error"] == []

    trio.run(main)


def test_a_save_not_yet_synced_goes_into_the_doc_that_makes_way(folder: Path) -> None:
    async def main() -> None:
        mirror, store, _ = await start(folder)
        mine = await local_file(mirror, store, "readme.md", "mine\n")
        (folder / "readme.md").write_text("mine, edited\n")  # before the watcher says so
        await peer_creates(mirror, store, "README.md", "theirs\n", 1)
        assert store.docs[mine].text("content") == "mine, edited\n"
        assert kept(folder) == {hidden_copy(mine, "readme.md"): b"mine, edited\n"}
        assert (folder / "README.md").read_text() == "theirs\n"

    trio.run(main)


def test_two_normalisations_of_one_name_are_one_file_here_too(folder: Path) -> None:
    nfc, nfd = (unicodedata.normalize(form, "café.md") for form in ("NFC", "NFD"))

    async def main() -> None:
        mirror, store, events = await start(folder)
        mine = await local_file(mirror, store, nfc, "mine\n")
        theirs = await peer_creates(mirror, store, nfd, "theirs\n", LATER_MS)
        await mirror.rescan()
        assert names(folder) == [nfc]
        assert (folder / nfc).read_text() == "mine\n"
        assert live(store) == {nfc: mine, nfd: theirs}
        assert [f["winner"] for t, f in events if t == "case-collision"] == [nfc]

    trio.run(main)
