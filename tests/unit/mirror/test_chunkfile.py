"""The chunked file layout's pure parts: matching a file against it, decoding."""

from __future__ import annotations

from p2psync.mirror.chunkfile import (
    LARGE_TEXT_MAX_BYTES,
    decode_large_text,
    match,
    piece_of,
)

PIECES = [piece_of(f"c{n}", f"chunk {n} 😀\n".encode()) for n in range(4)]
DATA = b"".join(f"chunk {n} 😀\n".encode() for n in range(4))


def test_an_unchanged_file_matches_every_chunk_in_place() -> None:
    found = match(PIECES, DATA)
    assert [found[p.guid] for p in PIECES] == [
        (sum(q.size for q in PIECES[:i]), sum(q.size for q in PIECES[: i + 1])) for i in range(4)
    ]


def test_an_edit_in_one_chunk_leaves_the_others_found_from_both_ends() -> None:
    edited = DATA.replace(b"chunk 1", b"chunk one")
    found = match(PIECES, edited)
    assert set(found) == {"c0", "c2", "c3"}
    assert edited[slice(*found["c3"])] == "chunk 3 😀\n".encode()


def test_leading_and_trailing_matches_never_overlap() -> None:
    twice = [piece_of("a", b"xx"), piece_of("b", b"xx")]
    assert match(twice, b"xx") == {"a": (0, 2)}
    assert match(PIECES, b"") == {}


def test_large_text_decoding_refuses_what_is_not_text() -> None:
    assert decode_large_text("中文\n".encode()) == "中文\n"
    assert decode_large_text(b"a\0b") is None
    assert decode_large_text(b"\xff\xfe") is None
    assert LARGE_TEXT_MAX_BYTES >= 50 * 1000 * 1000
