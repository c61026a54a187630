"""Splitting a Yjs update into pieces that fit a frame: every piece is a valid update
that a receiver applies in order without a gap, and together they are the update."""

from __future__ import annotations

import random
from typing import Any

import pycrdt
import pytest

from p2psync.errors import MalformedYjsError
from p2psync.protocol.yjs import decode_state_vector, delete_set_digest
from p2psync.protocol.yjs_split import split_update
from p2psync.protocol.yjs_update import scan_update

WORDS = ["x", "yz", "é", "字", "🙂", "lorem ipsum " * 40, "中文🙂" * 60]


def byte_offset(text: str, chars: int) -> int:
    """pycrdt Text indices are UTF-8 byte offsets."""
    return len(text[:chars].encode())


def edited_by_three(seed: int, steps: int = 300) -> pycrdt.Doc[Any]:
    """A doc written by three clients that exchange their changes now and then, so
    their items refer to each other (origins, right origins) and some are deleted."""
    rng = random.Random(seed)
    docs: list[pycrdt.Doc[Any]] = [pycrdt.Doc(client_id=client) for client in (1, 2, 3)]
    for _ in range(steps):
        doc = rng.choice(docs)
        text = doc.get("content", type=pycrdt.Text)
        current = str(text)
        if current and rng.random() < 0.2:
            start = rng.randrange(len(current))
            end = min(len(current), start + rng.randrange(1, 30))
            del text[byte_offset(current, start) : byte_offset(current, end)]
        elif rng.random() < 0.1:
            doc.get("meta", type=pycrdt.Map)[rng.choice("abc")] = rng.randrange(100)
        else:
            text.insert(byte_offset(current, rng.randrange(len(current) + 1)), rng.choice(WORDS))
        if rng.random() < 0.3:
            other = rng.choice(docs)
            other.apply_update(doc.get_update(other.get_state()))
    for doc in docs[1:]:
        docs[0].apply_update(doc.get_update(docs[0].get_state()))
    return docs[0]


def apply_in_order(pieces: list[bytes], base: bytes = b"") -> pycrdt.Doc[Any]:
    """A doc that held ``base`` with ``pieces`` applied one by one; asserts that none
    depends on anything the doc does not hold yet (a receiver would refuse it)."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    if base:
        doc.apply_update(base)
    for piece in pieces:
        assert not scan_update(piece).missing(decode_state_vector(doc.get_state()))
        doc.apply_update(piece)
    return doc


def same_content(a: pycrdt.Doc[Any], b: pycrdt.Doc[Any]) -> bool:
    return (
        str(a.get("content", type=pycrdt.Text)) == str(b.get("content", type=pycrdt.Text))
        and a.get("meta", type=pycrdt.Map).to_py() == b.get("meta", type=pycrdt.Map).to_py()
        and decode_state_vector(a.get_state()) == decode_state_vector(b.get_state())
        and delete_set_digest(a.get_update(a.get_state()))
        == delete_set_digest(b.get_update(b.get_state()))
    )


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("max_bytes", [200, 1500, 20_000])
def test_pieces_fit_apply_in_order_and_make_the_whole_doc(seed: int, max_bytes: int) -> None:
    source = edited_by_three(seed)
    whole = source.get_update()
    pieces = split_update(whole, max_bytes)
    assert len(pieces) > 1
    assert all(len(piece) <= max_bytes for piece in pieces)
    assert same_content(apply_in_order(pieces), source)


def test_a_diff_is_split_against_what_the_receiver_holds() -> None:
    source = edited_by_three(42)
    behind = edited_by_three(42, steps=150)
    diff = source.get_update(behind.get_state())
    pieces = split_update(diff, 1000)
    assert len(pieces) > 1
    assert same_content(apply_in_order(pieces, behind.get_update()), source)


def test_one_long_string_item_is_cut_at_character_boundaries() -> None:
    source: pycrdt.Doc[Any] = pycrdt.Doc(client_id=5)
    source.get("content", type=pycrdt.Text).insert(0, "aé字🙂" * 50_000)  # one item
    whole = source.get_update()
    pieces = split_update(whole, 64 * 1024)
    assert len(pieces) == len(whole) // (64 * 1024) + 1  # full pieces, but for the last
    assert all(len(piece) <= 64 * 1024 for piece in pieces)
    assert same_content(apply_in_order(pieces), source)


def test_a_delete_set_larger_than_a_piece_comes_last_in_pieces_of_its_own() -> None:
    source: pycrdt.Doc[Any] = pycrdt.Doc(client_id=7)
    text = source.get("content", type=pycrdt.Text)
    text.insert(0, "ab" * 5000)
    for at in range(2000):
        del text[at : at + 1]  # 2,000 separate ranges
    pieces = split_update(source.get_update(), 300)
    assert all(len(piece) <= 300 for piece in pieces)
    struct_less = [piece[0] == 0 for piece in pieces]
    assert struct_less[-1]
    assert struct_less == sorted(struct_less)  # struct pieces first, then the deletes
    assert same_content(apply_in_order(pieces), source)


def test_an_update_that_fits_is_returned_as_is() -> None:
    update = edited_by_three(1, steps=5).get_update()
    assert split_update(update, len(update)) == [update]


def test_a_malformed_update_is_refused() -> None:
    with pytest.raises(MalformedYjsError):
        split_update(b"\x01\x05\x01\x00" + b"\x04" * 100, 10)
