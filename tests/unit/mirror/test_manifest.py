"""The manifest schema and how every device resolves it (mirror/manifest.py)."""

from __future__ import annotations

import random
from typing import Any

import pycrdt
import pytest

from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import (
    Entry,
    MalformedEntryError,
    ManifestView,
    new_file_guid,
    parse_entry,
    put_entry,
    read_entries,
    set_fields,
)
from p2psync.mirror.paths import share_path
from tests.support.mirror import entry

Doc = pycrdt.Doc[Any]


def test_entries_round_trip_through_the_doc_and_peers() -> None:
    doc: Doc = pycrdt.Doc(client_id=1)
    first = entry("f:1", "notes.md", exec=True)
    moved = entry("f:2", "b.md", born="a.md")
    with doc.transaction():
        put_entry(doc, first)
        put_entry(doc, moved)
    peer: Doc = pycrdt.Doc(client_id=2)
    peer.apply_update(doc.get_update())
    entries, problems = read_entries(peer)
    assert (entries, problems) == ({"f:1": first, "f:2": moved}, [])


def test_concurrent_field_changes_of_one_entry_both_survive() -> None:
    a: Doc = pycrdt.Doc(client_id=1)
    with a.transaction():
        put_entry(a, entry("f:1", "old.md"))
    b: Doc = pycrdt.Doc(client_id=2)
    b.apply_update(a.get_update())
    with a.transaction():
        set_fields(a, "f:1", path="new.md")
    with b.transaction():
        set_fields(b, "f:1", exec=True)
    a.apply_update(b.get_update(a.get_state()))
    b.apply_update(a.get_update(b.get_state()))
    for doc in (a, b):
        got = read_entries(doc)[0]["f:1"]
        assert (got.path, got.exec) == ("new.md", True)


def test_concurrent_creates_of_one_path_keep_both_entries_and_agree_on_the_winner() -> None:
    a: Doc = pycrdt.Doc(client_id=1)
    b: Doc = pycrdt.Doc(client_id=2)
    with a.transaction():
        put_entry(a, entry("f:a", "notes.md", wall=5))
    with b.transaction():
        put_entry(b, entry("f:b", "notes.md", wall=3))
    a.apply_update(b.get_update())
    b.apply_update(a.get_update())
    views = [ManifestView.of(read_entries(doc)[0]) for doc in (a, b)]
    for view in views:
        assert view.by_path["notes.md"].guid == "f:b"  # created first
        assert [(lo.guid, w.guid) for lo, w in view.shadowed] == [("f:a", "f:b")]


def test_ties_in_creation_time_go_to_the_smaller_guid() -> None:
    view = ManifestView.of({"f:2": entry("f:2", "x"), "f:1": entry("f:1", "x")})
    assert view.by_path["x"].guid == "f:1"


@pytest.mark.parametrize("path", ["../x", "/etc/x", "a\x00b", ".p2psync/docs/x", "a//b", "C:x"])
def test_unsafe_paths_are_listed_apart_and_never_mapped(path: str) -> None:
    view = ManifestView.of({"f:1": entry("f:1", path)})
    assert view.by_path == {}
    assert [e.guid for e, _ in view.unsafe] == ["f:1"]


def test_deleted_entries_are_not_files_but_still_name_their_doc() -> None:
    view = ManifestView.of({"f:1": entry("f:1", "a.md", deleted=True)})
    assert view.by_path == {}
    deleted = view.deleted_at("a.md")
    assert deleted is not None
    assert deleted.guid == "f:1"
    assert view.guid_for_path("a.md") == "f:1"


def test_a_deleted_path_names_the_doc_that_held_it_never_one_that_lost_it() -> None:
    """A collision's loser (created later, retired naming the winner) is never the
    doc of its path, even once the winner is deleted too."""
    winner = entry("f:1", "a.md", wall=1, deleted=True)
    loser = entry("f:2", "a.md", wall=2, deleted=True, superseded_by="f:1")
    view = ManifestView.of({"f:1": winner, "f:2": loser})
    assert view.deleted_at("a.md") == winner
    assert view.guid_for_path("a.md") == "f:1"
    alone = ManifestView.of({"f:2": loser})
    assert alone.deleted_at("a.md") is None
    assert alone.guid_for_path("a.md") == "a.md"


def test_a_path_without_an_entry_names_the_doc_called_by_that_path() -> None:
    view = ManifestView.of({"f:1": entry("f:1", "a.md")})
    assert view.guid_for_path("a.md") == "f:1"
    assert view.guid_for_path("b.md") == "b.md"


def test_file_guids_can_never_be_taken_for_paths() -> None:
    guid = new_file_guid()
    assert guid.startswith("f:")
    assert len(guid) == 34
    with pytest.raises(ValueError, match="unsafe path"):
        share_path(guid)


@pytest.mark.parametrize(
    "raw",
    [
        "not a map",
        {"kind": "text", "created": [1, 0, b"d"]},
        {"path": "a", "kind": "video", "created": [1, 0, b"d"]},
        {"path": "a", "kind": "text"},
        {"path": "a", "kind": "text", "created": [1.5, 0, b"d"]},
        {"path": "a", "kind": "text", "created": [1, 0, "d"]},
        {"path": "a", "kind": "text", "created": [-1, 0, b"d"]},
    ],
)
def test_malformed_entries_from_peers_are_refused_with_a_reason(raw: object) -> None:
    with pytest.raises(MalformedEntryError, match="manifest entry 'g'"):
        parse_entry("g", raw)


def test_read_entries_skips_malformed_ones_and_says_why() -> None:
    doc: Doc = pycrdt.Doc(client_id=1)
    files = doc.get("files", type=pycrdt.Map)
    with doc.transaction():
        put_entry(doc, entry("f:1", "good.md"))
        files["f:2"] = pycrdt.Map({"path": 3})
        files["f:3"] = "junk"
    entries, problems = read_entries(doc)
    assert list(entries) == ["f:1"]
    assert len(problems) == 2


def test_collision_order_is_the_creation_timestamps_then_the_guids() -> None:
    """``Entry.order`` is a plain tuple (it sorts in C) ordering entries exactly as
    their ``Timestamp``s do, then their guids."""
    rng = random.Random(7)
    entries = [
        Entry(f"g{rng.randrange(5)}", f"p{n}", FileKind.TEXT,
              Timestamp(rng.randrange(3), rng.randrange(3), rng.choice([b"a", b"ab", b"b"])))
        for n in range(500)
    ]  # fmt: skip
    by_timestamp = sorted(entries, key=lambda e: (e.created, e.guid))
    assert [e.order for e in sorted(entries, key=lambda e: e.order)] == [
        e.order for e in by_timestamp
    ]
