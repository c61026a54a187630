"""The edit back to a past version, found from the doc's structure
(``storage.versionedit``): it gives the version's text, touches only what changed,
and merges with a concurrent edit as any edit does."""

from __future__ import annotations

import random
from typing import Any

import pycrdt

from p2psync.storage.versionedit import edit_back

ALPHABET = "abc dé😀\n"


def _text(doc: pycrdt.Doc[Any]) -> pycrdt.Text:
    text: pycrdt.Text = doc.get("content", type=pycrdt.Text)
    return text


def _edit(rng: random.Random, text: pycrdt.Text) -> None:
    """One random insert or delete, at a character boundary (offsets are UTF-8)."""
    chars = str(text)
    at = rng.randrange(len(chars) + 1)
    offset = len(chars[:at].encode())
    if chars and rng.random() < 0.4:
        end = min(len(chars), at + rng.randrange(1, 6))
        del text[offset : offset + len(chars[at:end].encode())]
    else:
        text.insert(offset, "".join(rng.choices(ALPHABET, k=rng.randrange(1, 8))))


def _back(current: pycrdt.Doc[Any], state: bytes, client: int) -> bytes:
    version: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client)
    version.apply_update(state)
    update = edit_back(version, current.get_update(version.get_state()), "content")
    assert update is not None
    return update


def test_the_edit_back_gives_each_versions_text_on_many_seeds() -> None:
    for seed in range(40):
        rng = random.Random(seed)
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        versions: list[tuple[bytes, str]] = []
        for _ in range(rng.randrange(5, 40)):
            _edit(rng, _text(doc))
            if rng.random() < 0.3:
                versions.append((doc.get_update(), str(_text(doc))))
        for state, wanted in versions:
            restored: pycrdt.Doc[Any] = pycrdt.Doc()
            restored.apply_update(doc.get_update())
            restored.apply_update(_back(doc, state, 7_000 + seed))
            assert str(_text(restored)) == wanted, seed


def test_unchanged_text_is_not_retyped_and_a_concurrent_edit_survives() -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = _text(doc)
    text.insert(0, "one two three\nfour five six\n")
    then = doc.get_update()
    text.insert(len(b"one "), "inserted ")  # made since the version
    del text[len(b"one inserted two three\nfour ") : len(
        b"one inserted two three\nfour five")]  # fmt: skip
    peer: pycrdt.Doc[Any] = pycrdt.Doc()
    peer.apply_update(doc.get_update())
    _text(peer).insert(len(str(_text(peer)).encode()), "seven\n")  # concurrent, elsewhere
    update = _back(doc, then, 9_001)
    assert len(update) < 60  # two small edits, not the text typed again
    doc.apply_update(update)
    doc.apply_update(peer.get_update(doc.get_state()))
    peer.apply_update(doc.get_update(peer.get_state()))
    assert str(_text(doc)) == str(_text(peer)) == "one two three\nfour five six\nseven\n"


def test_no_change_since_the_version_is_an_empty_edit() -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    _text(doc).insert(0, "same")
    update = _back(doc, doc.get_update(), 9_002)
    after: pycrdt.Doc[Any] = pycrdt.Doc()
    after.apply_update(doc.get_update())
    after.apply_update(update)
    assert str(_text(after)) == "same"
    assert after.get_state() == doc.get_state()


def test_formatting_and_embeds_made_since_are_undone_too() -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = _text(doc)
    text.insert(0, "plain words\n")
    then = doc.get_update()
    text.format(0, len(b"plain"), {"bold": True})
    text.insert_embed(len(b"plain words"), {"image": "a.png"})
    del text[0 : len(b"plain ")]
    update = _back(doc, then, 9_003)
    doc.apply_update(update)
    assert str(text) == "plain words\n"
    assert [attrs for _, attrs in text.diff() if attrs] == []


def test_the_edit_back_grows_with_what_changed_not_with_the_text() -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = _text(doc)
    for n in range(2_000):
        text.insert(len(str(text).encode()), f"line {n} of a long text\n")
    then = doc.get_update()
    text.insert(len(b"line 0 of"), " the first")
    update = _back(doc, then, 9_004)
    assert len(update) < 40  # the one insert deleted, nothing else touched
    doc.apply_update(update)
    assert str(text).startswith("line 0 of a long text\nline 1 ")
