"""The chunked text: reading in order, routing inserts, closing and successors."""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest

from p2psync.mirror import chunked
from p2psync.mirror.chunked import ChunkedText, chunk_order, is_closed, seed, successor_guid

ROOT = "f:root"


class Replica:
    """A root doc and its chunk docs, created on first use."""

    def __init__(self) -> None:
        self.root: pycrdt.Doc[Any] = pycrdt.Doc()
        self.docs: dict[str, pycrdt.Doc[Any]] = {}

    def chunk(self, guid: str) -> pycrdt.Doc[Any]:
        if guid == ROOT:
            return self.root  # a converted root is its own first chunk
        if guid not in self.docs:
            self.docs[guid] = pycrdt.Doc()
        return self.docs[guid]

    def text(self, max_bytes: int = 16, **kwargs: Any) -> ChunkedText:
        return ChunkedText(self.root, ROOT, self.chunk, max_bytes=max_bytes, **kwargs)


def test_seed_splits_into_half_full_chunks_and_reads_back_in_order() -> None:
    replica = Replica()
    source = "".join(f"line {n}\n" for n in range(40))
    guids = seed(replica.root, ROOT, replica.chunk, source, 32)
    assert len(guids) > 1
    assert chunk_order(replica.root, ROOT) == guids
    text = replica.text(32)
    assert text.text() == source
    assert all(len(piece.encode()) <= 16 for _, piece in text.texts())
    assert all(piece.endswith("\n") for _, piece in list(text.texts())[:-1])


def test_seed_refuses_a_root_that_has_chunks() -> None:
    replica = Replica()
    seed(replica.root, ROOT, replica.chunk, "abc", 16)
    with pytest.raises(ValueError, match="already has chunks"):
        seed(replica.root, ROOT, replica.chunk, "abc", 16)


def test_an_empty_text_still_has_a_chunk_to_type_into() -> None:
    replica = Replica()
    seed(replica.root, ROOT, replica.chunk, "", 16)
    text = replica.text()
    assert text.text() == ""
    text.insert(0, "hello")
    assert text.text() == "hello"


def test_appending_past_the_limit_closes_the_chunk_and_fills_successors() -> None:
    replica = Replica()
    (first,) = seed(replica.root, ROOT, replica.chunk, "ab", 16)
    text = replica.text(8)
    touched = text.insert(2, "cdefghijklmnopqrstuvwxyz")
    assert text.text() == "abcdefghijklmnopqrstuvwxyz"
    order = chunk_order(replica.root, ROOT)
    assert order[0] == first
    assert order[1] == successor_guid(ROOT, first)
    assert touched == order
    assert [len(piece) for _, piece in text.texts()] == [8, 8, 8, 2]
    assert [is_closed(replica.root, guid) for guid in order] == [True, True, True, False]


def test_appending_lines_past_the_limit_closes_each_chunk_at_a_lines_end() -> None:
    replica = Replica()
    seed(replica.root, ROOT, replica.chunk, "ab\n", 16)
    text = replica.text(8)
    text.insert(3, "cd\nef\ngh\nij\nkl\n")
    assert text.text() == "ab\ncd\nef\ngh\nij\nkl\n"
    assert [piece for _, piece in text.texts()] == ["ab\ncd\n", "ef\ngh\n", "ij\nkl\n"]


def test_an_insert_at_a_closed_chunks_end_goes_to_its_successors_start() -> None:
    replica = Replica()
    seed(replica.root, ROOT, replica.chunk, "", 16)
    text = replica.text(4)
    text.insert(0, "abcdefgh")
    _first, second = chunk_order(replica.root, ROOT)
    assert text.locate(4) == (second, 0)
    assert text.insert(4, "X") == [second]
    assert text.chunk_text(second) == "Xefgh"
    assert text.text() == "abcdXefgh"


def test_boundary_insert_goes_to_the_start_of_the_right_chunk() -> None:
    replica = Replica()
    first, second = seed(replica.root, ROOT, replica.chunk, "aaaa\nbbbb\n", 10)
    assert not is_closed(replica.root, first)
    text = replica.text(10)
    assert text.locate(5) == (second, 0)
    assert text.insert(5, "Y") == [second]
    assert text.chunk_text(first) == "aaaa\n"
    assert text.text() == "aaaa\nYbbbb\n"


def test_position_zero_goes_to_the_first_chunk_and_bad_positions_fail() -> None:
    replica = Replica()
    first, _ = seed(replica.root, ROOT, replica.chunk, "aaaa\nbbbb\n", 10)
    text = replica.text(10)
    assert text.locate(0) == (first, 0)
    with pytest.raises(IndexError):
        text.insert(11, "x")
    with pytest.raises(IndexError):
        text.delete(8, 5)


def test_emoji_and_cjk_are_never_split_and_offsets_are_code_points() -> None:
    replica = Replica()
    seed(replica.root, ROOT, replica.chunk, "", 16)
    text = replica.text(10)
    source = "😀中文😀ab中😀"
    text.insert(0, source)
    assert text.text() == source
    assert all(len(piece.encode()) <= 10 for _, piece in text.texts())
    text.insert(3, "é")
    expected = source[:3] + "é" + source[3:]
    assert text.text() == expected
    text.delete(2, 4)
    expected = expected[:2] + expected[6:]
    assert text.text() == expected


def test_a_character_wider_than_the_limit_still_goes_in() -> None:
    replica = Replica()
    seed(replica.root, ROOT, replica.chunk, "", 16)
    text = replica.text(2)
    text.insert(0, "😀😀")
    assert text.text() == "😀😀"
    assert len(chunk_order(replica.root, ROOT)) == 2


def test_delete_across_chunks_touches_only_the_chunks_it_covers() -> None:
    replica = Replica()
    source = "".join(f"{n:03}\n" for n in range(12))
    guids = seed(replica.root, ROOT, replica.chunk, source, 16)
    text = replica.text(16)
    assert len(guids) == 6
    assert text.delete(6, 6) == guids[0:2]
    assert text.text() == source[:6] + source[12:]


def test_known_lengths_spare_loading_the_chunks_before_an_edit() -> None:
    source = "".join(f"{n:03}\n" for n in range(12))
    writer = Replica()
    guids = seed(writer.root, ROOT, writer.chunk, source, 16)
    reader = Replica()
    reader.root.apply_update(writer.root.get_update())
    last = guids[-1]
    reader.chunk(last).apply_update(writer.docs[last].get_update())
    lengths = {guid: len(writer.text().chunk_text(guid)) for guid in guids}
    text = reader.text(16, lengths=lengths)
    text.insert(len(source) - 1, "!")
    assert set(reader.docs) == {last}
    assert text.chunk_text(last) == "010\n011!\n"


def test_two_peers_closing_one_chunk_create_one_successor() -> None:
    a, b = Replica(), Replica()
    seed(a.root, ROOT, a.chunk, "abcd", 8)
    b.root.apply_update(a.root.get_update())
    for guid, doc in a.docs.items():
        b.chunk(guid).apply_update(doc.get_update())
    a.text(4).insert(4, "XX")
    b.text(4).insert(4, "YY")
    for src, dst in ((a, b), (b, a)):
        dst.root.apply_update(src.root.get_update())
        for guid, doc in src.docs.items():
            dst.chunk(guid).apply_update(doc.get_update())
    assert len(chunk_order(a.root, ROOT)) == 2
    assert a.text(4).text() == b.text(4).text()
    assert sorted(a.text(4).text()) == sorted("abcdXXYY")


def test_hostile_order_keys_are_left_out() -> None:
    replica = Replica()
    (good,) = seed(replica.root, ROOT, replica.chunk, "ok", 16)
    entries = replica.root.get(chunked.CHUNKS, type=pycrdt.Map)
    entries["bad1"] = "zzz"
    entries["bad2"] = [True, 0]
    entries["bad3"] = [-1, 0]
    entries["bad4"] = [1.5, 0]
    entries[".p2psync/manifest"] = [0, 5]  # not a chunk guid: another doc
    entries["c:" + "A" * 32] = [0, 5]
    assert chunk_order(replica.root, ROOT) == [good]
    assert chunked.chunk_key(replica.root, ROOT, ".p2psync/manifest") is None


def one_doc_text(replica: Replica, text: str) -> None:
    """Make ``replica`` a one-doc text: the root's own ``content`` holds ``text``."""
    replica.root.get(chunked.CONTENT, type=pycrdt.Text).insert(0, text)


def exchange(a: Replica, b: Replica) -> None:
    for src, dst in ((a, b), (b, a)):
        dst.root.apply_update(src.root.get_update())
        for guid, doc in src.docs.items():
            dst.chunk(guid).apply_update(doc.get_update())


def test_a_converted_text_stays_in_place_and_appends_go_to_successors() -> None:
    replica = Replica()
    one_doc_text(replica, "0123456789abcdef")  # 16 bytes: already full at max 16
    chunked.convert(replica.root, ROOT)
    assert chunk_order(replica.root, ROOT) == [ROOT]
    text = replica.text(16)
    assert text.text() == "0123456789abcdef"
    text.insert(16, "tail")
    text.insert(4, "-")
    assert text.text() == "0123-456789abcdef" + "tail"
    assert str(replica.root.get(chunked.CONTENT, type=pycrdt.Text)) == "0123-456789abcdef"
    assert chunk_order(replica.root, ROOT) == [ROOT, successor_guid(ROOT, ROOT)]
    assert is_closed(replica.root, ROOT)


def test_converting_twice_or_on_two_peers_lists_the_root_once() -> None:
    a, b = Replica(), Replica()
    one_doc_text(a, "shared text")
    exchange(a, b)
    chunked.convert(a.root, ROOT)
    chunked.convert(a.root, ROOT)
    chunked.convert(b.root, ROOT)
    a.text(8).insert(len("shared text"), " from a")
    b.text(8).insert(len("shared text"), " from b")
    exchange(a, b)
    assert chunk_order(a.root, ROOT) == chunk_order(b.root, ROOT)
    assert chunk_order(a.root, ROOT) == [ROOT, successor_guid(ROOT, ROOT)]
    assert a.text(8).text() == b.text(8).text()
    assert a.text(8).text() in {"shared text from a from b", "shared text from b from a"}


def test_an_edit_made_as_one_doc_merges_with_a_conversion() -> None:
    a, b = Replica(), Replica()
    one_doc_text(a, "abcdefgh")
    exchange(a, b)
    chunked.convert(a.root, ROOT)
    a.text(8).insert(8, "APPENDED")
    b.root.get(chunked.CONTENT, type=pycrdt.Text).insert(3, "[b]")  # b: still one doc
    exchange(a, b)
    assert a.text(8).text() == b.text(8).text() == "abc[b]defgh" + "APPENDED"


def test_a_root_created_chunked_is_not_converted() -> None:
    replica = Replica()
    seed(replica.root, ROOT, replica.chunk, "abc", 16)
    with pytest.raises(ValueError, match="not a one-doc text"):
        chunked.convert(replica.root, ROOT)


def _relisted(replica: Replica) -> pycrdt.Doc[Any]:
    """A root holding no list (as one stored as the file's export) with the chunks of
    ``replica`` listed again from their guids alone."""
    order = chunk_order(replica.root, ROOT)
    keys = chunked.derived_keys(ROOT, order)
    assert keys is not None
    root: pycrdt.Doc[Any] = pycrdt.Doc()
    chunked.relist(root, ROOT, keys)
    assert chunk_order(root, ROOT) == order
    for guid in order:
        assert chunked.chunk_key(root, ROOT, guid) == chunked.chunk_key(replica.root, ROOT, guid)
        assert is_closed(root, guid) == is_closed(replica.root, guid)
    return root


def test_a_lost_list_is_listed_again_with_the_keys_every_peer_holds() -> None:
    replica = Replica()
    seed(replica.root, ROOT, replica.chunk, "".join(f"line {n}\n" for n in range(12)), 32)
    text = replica.text(32)
    text.insert(len(text.text()), "".join(f"more {n}\n" for n in range(12)))  # successors
    text.insert(0, "first\n")
    assert any(is_closed(replica.root, guid) for guid in chunk_order(replica.root, ROOT))
    root = _relisted(replica)
    root.apply_update(replica.root.get_update())  # merged with a peer's list: one list
    assert chunk_order(root, ROOT) == chunk_order(replica.root, ROOT)
    converted = Replica()
    one_doc_text(converted, "0123456789abcdef")
    chunked.convert(converted.root, ROOT)
    converted.text(16).insert(16, "0123456789abcdef" * 3)
    _relisted(converted)


def test_a_list_is_not_rebuilt_from_guids_it_cannot_place() -> None:
    first, second = chunked.seed_guid(ROOT, 0), chunked.seed_guid(ROOT, 1)
    assert chunked.derived_keys(ROOT, [first, "c:" + "0" * 32]) is None  # not derived
    assert chunked.derived_keys(ROOT, [second, first]) is None  # out of order
    assert chunked.derived_keys(ROOT, [successor_guid(ROOT, first)]) is None  # no predecessor
    assert chunked.derived_keys(ROOT, [first, second]) == {first: (0, 0), second: (1, 0)}
