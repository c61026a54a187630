"""App docs' files (mirror/ydocfile.py): which paths are app docs, which bytes merge,
what a merge adds, and when a file's write is held back."""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest
import trio
import trio.testing

from p2psync.mirror.kinds import FileKind
from p2psync.mirror.ydocfile import (
    EMPTY_DOC,
    DeferredWrites,
    is_ydoc_path,
    merge_delta,
    merge_problem,
)

YDoc = pycrdt.Doc[Any]


def board(client_id: int, **cells: Any) -> YDoc:
    doc: YDoc = pycrdt.Doc(client_id=client_id)
    cards = doc.get("cards", type=pycrdt.Map)
    for key, value in cells.items():
        cards[key] = value
    return doc


def cards(state: bytes) -> dict[str, Any]:
    doc: YDoc = pycrdt.Doc()
    doc.apply_update(state)
    return dict(doc.get("cards", type=pycrdt.Map).to_py() or {})


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("board.ydoc", True),
        ("apps/todo/board.ydoc", True),
        ("Board.YDOC", True),
        (".ydoc", False),
        ("notes/.ydoc", False),
        ("board.ydoc.txt", False),
        ("board.ydocs", False),
        ("ydoc", False),
        ("a.ydoc/notes.md", False),
    ],
)
def test_an_app_doc_is_a_path_ending_in_ydoc(rel: str, expected: bool) -> None:
    assert is_ydoc_path(rel) is expected


def test_the_kind_is_in_the_manifest_and_is_not_text() -> None:
    assert FileKind("ydoc") is FileKind.YDOC
    assert not FileKind.YDOC.textual
    assert FileKind.TEXT.textual
    assert FileKind.CHUNKED.textual


def test_a_whole_doc_and_an_empty_file_merge() -> None:
    assert merge_problem(board(1, a=1).get_update()) is None
    assert merge_problem(b"") is None
    assert merge_problem(EMPTY_DOC) is None


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"hello, world\n", "not a Yjs doc"),
        (b"\x00", "not a Yjs doc"),
        (b"\x01\x01\x05\x00\x28\x01", "not a Yjs doc"),  # cut short
        (bytes(range(256)), "not a Yjs doc"),
    ],
)
def test_bytes_that_are_no_yjs_update_are_refused(data: bytes, words: str) -> None:
    problem = merge_problem(data)
    assert problem is not None
    assert words in problem


def test_an_update_that_needs_changes_neither_holds_is_refused() -> None:
    doc = board(5, a=1)
    before = doc.get_state()
    doc.get("cards", type=pycrdt.Map)["b"] = 2
    later = doc.get_update(before)  # needs client 5's first change
    problem = merge_problem(later)
    assert problem is not None
    assert "depends on changes" in problem
    assert merge_problem(later, before) is None  # a doc holding them takes it


def test_a_file_write_never_removes_content() -> None:
    live = board(1, a=1, b=2)
    older: YDoc = pycrdt.Doc()
    older.apply_update(live.get_update())
    live.get("cards", type=pycrdt.Map)["c"] = 3
    del live.get("cards", type=pycrdt.Map)["a"]
    stale = older.get_update()  # a backup from before: it holds "a", not "c"
    assert merge_delta(live.get_update(), stale) is None  # nothing new: nothing merged

    other = board(2, d=4)  # another device's concurrent doc, copied in
    delta = merge_delta(live.get_update(), other.get_update())
    assert delta is not None
    live.apply_update(delta)
    assert cards(live.get_update()) == {"b": 2, "c": 3, "d": 4}


def test_an_empty_file_adds_nothing() -> None:
    state = board(1, a=1).get_update()
    assert merge_delta(state, b"") is None
    assert merge_delta(state, EMPTY_DOC) is None


def test_writes_are_held_back_within_the_gap_and_due_after_it() -> None:
    writes = DeferredWrites(gap_s=0.25)
    assert not writes.defer("a.ydoc", 10.0)  # never written: at once
    writes.wrote("a.ydoc", 10.0)
    assert writes.defer("a.ydoc", 10.1)
    assert writes.defer("a.ydoc", 10.2)  # still one write, due at the gap's end
    assert writes.next_due() == pytest.approx(10.25)
    assert writes.due(10.2) == []
    assert writes.due(10.3) == ["a.ydoc"]
    assert writes.next_due() is None
    assert not writes.defer("a.ydoc", 10.3)  # the gap has passed
    assert not writes.defer("b.ydoc", 10.3)  # per file


def test_the_owner_waiting_for_a_held_write_learns_when_it_is_due() -> None:
    async def main() -> None:
        writes = DeferredWrites(gap_s=0.25)
        found: list[float] = []

        async def wait() -> None:
            found.append(await writes.deferred())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait)
            await trio.testing.wait_all_tasks_blocked()
            assert found == []  # nothing held: it waits
            writes.wrote("a.ydoc", trio.current_time())
            assert writes.defer("a.ydoc", trio.current_time())
        assert found == [pytest.approx(trio.current_time() + 0.25)]

    trio.run(main, clock=trio.testing.MockClock())
