"""Names on case-insensitive filesystems: probing, collision keys, the view's hidden
entries (mirror/names.py, mirror/manifest.py)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from p2psync.mirror.manifest import ManifestView
from p2psync.mirror.names import Listings, NameRules, probe_names
from tests.support.mirror import entry

FOLD = NameRules(fold_case=True, fold_unicode=True)
NFC = unicodedata.normalize("NFC", "café.md")
NFD = unicodedata.normalize("NFD", "café.md")


def test_the_probe_finds_this_machines_case_sensitive_folder_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    marker = tmp_path / ".p2psync"
    marker.mkdir()
    assert probe_names(marker) == NameRules()
    assert list((marker / "tmp").iterdir()) == []


def test_keys_say_which_paths_are_one_file() -> None:
    assert FOLD.key("Docs/README.md") == FOLD.key("docs/readme.MD")
    assert FOLD.key(NFC) == FOLD.key(NFD)
    assert NameRules(fold_unicode=True).key(NFC) == NameRules(fold_unicode=True).key(NFD)
    assert NameRules(fold_unicode=True).key("A.md") != NameRules(fold_unicode=True).key("a.md")
    assert NameRules().key("A.md") != NameRules().key("a.md")
    assert not NameRules().folds
    assert FOLD.folds


def test_spelling_keys_fold_folders_but_not_the_name() -> None:
    assert FOLD.spelling_key("Docs/b.md") == FOLD.spelling_key("docs/b.md")
    assert FOLD.spelling_key("docs/B.md") != FOLD.spelling_key("docs/b.md")
    assert FOLD.spelling_key(f"x/{NFD}") == FOLD.spelling_key(f"X/{NFC}")  # not a rename
    assert NameRules(fold_case=True).spelling_key(NFD) != NameRules(fold_case=True).spelling_key(
        NFC
    )  # NTFS: two names


def test_exists_as_reads_the_folder_listing_once_per_batch(tmp_path: Path) -> None:
    (tmp_path / "Notes.md").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / NFD).write_text("y")
    listings: Listings = {}
    assert FOLD.exists_as(tmp_path, "Notes.md", listings)
    assert FOLD.exists_as(tmp_path, f"d/{NFD}", listings)
    assert not FOLD.exists_as(tmp_path, "nope.md", listings)
    assert set(listings) == {"", "d"}
    # The listing of a folder is read once per batch.
    (tmp_path / "d" / "late.md").write_text("z")
    assert not FOLD.exists_as(tmp_path, "d/late.md", listings)
    assert FOLD.exists_as(tmp_path, "d/late.md")
    # ...and kept true by whoever writes.
    FOLD.listed(listings, "d/late.md", present=True)
    assert FOLD.exists_as(tmp_path, "d/late.md", listings)
    FOLD.listed(listings, "Notes.md", present=False)  # (as after a rename to notes.md)
    assert not FOLD.exists_as(tmp_path, "Notes.md", listings)


def test_paths_one_file_here_leave_the_first_created_visible_and_the_manifest_alone() -> None:
    first = entry("f:2", "readme.md", wall=1)
    later = entry("f:1", "README.md", wall=2)
    other = entry("f:3", "Docs/a.md", wall=3)
    folder = entry("f:4", "docs/b.md", wall=4)
    deep = entry("f:5", "DOCS/A.md", wall=5)
    entries = {e.guid: e for e in (first, later, other, folder, deep)}
    here = ManifestView.of(entries, FOLD.key)
    assert here.by_path == {"readme.md": first, "Docs/a.md": other, "docs/b.md": folder}
    assert here.hidden == [(later, first), (deep, other)]
    assert here.shadowed == []  # nothing for the manifest to retire
    assert here.guid_for_path("README.md") == "f:1"
    elsewhere = ManifestView.of(entries)
    assert len(elsewhere.by_path) == 5
    assert elsewhere.hidden == []


def test_a_hidden_entry_takes_the_file_once_the_winner_is_gone() -> None:
    first = entry("f:1", "readme.md", wall=1, deleted=True)
    later = entry("f:2", "README.md", wall=2)
    here = ManifestView.of({"f:1": first, "f:2": later}, FOLD.key)
    assert here.by_path == {"README.md": later}
    assert here.hidden == []


@pytest.mark.parametrize("winner_first", [True, False])
def test_exact_collisions_are_still_settled_by_the_manifest_first(winner_first: bool) -> None:
    a = entry("f:1", "notes.md", wall=1 if winner_first else 3)
    b = entry("f:2", "notes.md", wall=2)
    c = entry("f:3", "NOTES.md", wall=4)
    here = ManifestView.of({e.guid: e for e in (a, b, c)}, FOLD.key)
    winner, loser = (a, b) if winner_first else (b, a)
    assert here.shadowed == [(loser, winner)]
    assert here.hidden == [(c, winner)]
