"""Merging a save against its base, and edits after a delete (mirror/engine.py)."""

from __future__ import annotations

from typing import Any

import pycrdt

from p2psync.mirror.engine import merge_save
from p2psync.mirror.revival import has_changes_since
from p2psync.replica.doc import DocReplica

YDoc = pycrdt.Doc[Any]


def doc_with(text: str) -> DocReplica:
    seed: YDoc = pycrdt.Doc(client_id=1)
    seed.get("content", type=pycrdt.Text).insert(0, text)
    return DocReplica("f:1", [seed.get_update()])


def peer_insert(doc: DocReplica, position: int, text: str) -> bytes:
    peer: YDoc = pycrdt.Doc(client_id=2)
    peer.apply_update(doc.full_state())
    before = peer.get_state()
    peer.get("content", type=pycrdt.Text).insert(position, text)
    return peer.get_update(before)


def test_a_save_against_the_base_merges_with_what_arrived_since() -> None:
    doc = doc_with("alpha\nbeta\n")
    base = doc.full_state()
    doc.apply(peer_insert(doc, len("alpha\nbeta\n"), "gamma\n"))  # arrived after the base
    doc.apply(merge_save(base, "ALPHA\nbeta\n")[0])  # the file as saved here
    assert doc.text() == "ALPHA\nbeta\ngamma\n"


def test_a_save_of_unicode_text_merges_by_character() -> None:
    doc = doc_with("café 😀 日本\n")
    base = doc.full_state()
    doc.apply(peer_insert(doc, 0, "→ "))
    doc.apply(merge_save(base, "café 😀 日本語\n")[0])
    assert doc.text() == "→ café 😀 日本語\n"


def test_an_unchanged_save_is_an_empty_change() -> None:
    doc = doc_with("same\n")
    assert doc.apply(merge_save(doc.full_state(), "same\n")[0]) == []


def test_edits_after_a_delete_are_told_apart_from_none() -> None:
    doc = doc_with("kept\n")
    deleted_at = doc.state_vector()
    assert not has_changes_since(doc, deleted_at)
    doc.apply(peer_insert(doc, 0, "edited "))
    assert has_changes_since(doc, deleted_at)
    assert has_changes_since(doc, b"")
    assert has_changes_since(doc, b"\xff")  # unreadable: treated as changed (keep the file)
