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
    return peer_edit(doc, position, 0, text)


def peer_edit(doc: DocReplica, position: int, delete: int, text: str) -> bytes:
    """A peer's edit of the doc: ``delete`` UTF-8 bytes at ``position``, then
    ``text`` inserted there."""
    peer: YDoc = pycrdt.Doc(client_id=2)
    peer.apply_update(doc.full_state())
    before = peer.get_state()
    content = peer.get("content", type=pycrdt.Text)
    del content[position : position + delete]
    content.insert(position, text)
    return peer.get_update(before)


def save_merged(doc: DocReplica, base: bytes, saved: str) -> str:
    doc.apply(merge_save(base, saved, doc.full_state())[0])
    return doc.text()


def test_a_save_against_the_base_merges_with_what_arrived_since() -> None:
    doc = doc_with("alpha\nbeta\n")
    base = doc.full_state()
    doc.apply(peer_insert(doc, len("alpha\nbeta\n"), "gamma\n"))  # arrived after the base
    doc.apply(merge_save(base, "ALPHA\nbeta\n", doc.full_state())[0])  # the file as saved here
    assert doc.text() == "ALPHA\nbeta\ngamma\n"


def test_a_save_of_unicode_text_merges_by_character() -> None:
    doc = doc_with("café 😀 日本\n")
    base = doc.full_state()
    doc.apply(peer_insert(doc, 0, "→ "))
    doc.apply(merge_save(base, "café 😀 日本語\n", doc.full_state())[0])
    assert doc.text() == "→ café 😀 日本語\n"


def test_a_line_the_save_replaced_and_a_peer_deleted_meanwhile_is_saved_whole() -> None:
    # Two lines alike but for their digits: by character, the save would keep the old
    # line's shared characters, which the peer's deletion takes with it: "77651".
    old = "tk-2024-002008 save:rename on c at 160.90s\n"
    saved = "tk-2024-002077 save:rename on c at 166.51s\n"
    doc = doc_with("first\n" + old + "last\n")
    base = doc.full_state()
    doc.apply(peer_edit(doc, len("first\n"), len(old), ""))  # the peer deleted the line
    assert save_merged(doc, base, "first\n" + saved + "last\n") == "first\n" + saved + "last\n"


def test_a_deleted_last_line_without_a_break_is_replaced_whole_too() -> None:
    doc = doc_with("first\nmeeting at 10:00")
    base = doc.full_state()
    doc.apply(peer_edit(doc, len("first"), len("\nmeeting at 10:00"), ""))
    # The peer deleted the break before the line too, which the save left as it was.
    assert save_merged(doc, base, "first\nmeeting at 11:30") == "firstmeeting at 11:30"


def test_a_line_two_devices_edited_in_different_words_keeps_both_edits() -> None:
    doc = doc_with("meeting at 10:00 in room A\n")
    base = doc.full_state()
    doc.apply(peer_edit(doc, len("meeting at 10:00 in room "), 1, "B"))  # the peer's word
    assert save_merged(doc, base, "meeting at 11:30 in room A\n") == "meeting at 11:30 in room B\n"


def test_what_a_peer_deleted_is_found_past_characters_of_several_bytes() -> None:
    doc = doc_with("café 😀\nwörld zwei\n")
    base = doc.full_state()
    doc.apply(peer_edit(doc, len("café 😀\n".encode()), len("wörld zwei\n".encode()), ""))
    assert save_merged(doc, base, "café 😀\nwörld drei\n") == "café 😀\nwörld drei\n"


def test_an_unchanged_save_is_an_empty_change() -> None:
    doc = doc_with("same\n")
    state = doc.full_state()
    assert doc.apply(merge_save(state, "same\n", state)[0]) == []


def test_edits_after_a_delete_are_told_apart_from_none() -> None:
    doc = doc_with("kept\n")
    deleted_at = doc.state_vector()
    assert not has_changes_since(doc, deleted_at)
    doc.apply(peer_insert(doc, 0, "edited "))
    assert has_changes_since(doc, deleted_at)
    assert has_changes_since(doc, b"")
    assert has_changes_since(doc, b"\xff")  # unreadable: treated as changed (keep the file)
