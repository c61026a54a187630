"""Editing traces become Yjs updates that rebuild exactly the trace's final text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from bench.traces import (
    CACHE_ENV,
    TRACES_ENV,
    Patch,
    Trace,
    TraceError,
    load_trace,
    replay,
    trace_updates,
)


def text_after(updates: list[bytes]) -> str:
    """The ``content`` text of a fresh Doc after applying ``updates`` in order."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("content", type=pycrdt.Text))


def write_trace(directory: Path, name: str, start: str, patches: list[Patch]) -> str:
    """Write a trace file in the editing-traces format; return its endContent."""
    end = start
    for pos, delete, insert in patches:
        end = end[:pos] + insert + end[pos + delete :]
    txns = [{"time": "2021-01-01T00:00:00.000Z", "patches": [list(p) for p in patches]}]
    raw = {"startContent": start, "endContent": end, "txns": txns}
    with gzip.open(directory / f"{name}.json.gz", "wt", encoding="utf-8") as f:
        json.dump(raw, f)
    return end


MIXED = [Patch(1, 1, "😀e"), Patch(7, 0, "文"), Patch(8, 0, "!"), Patch(0, 3, ""), Patch(2, 0, "x")]


def test_pycrdt_text_indices_are_utf8_bytes() -> None:
    # The assumption the replay rests on: if pycrdt ever counts code points, this fails.
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    text.insert(0, "a😀b中c")
    assert len(text) == len("a😀b中c".encode()) == 10
    text.insert(5, "X")  # byte 5 is just after the 4-byte emoji
    assert str(text) == "a😀Xb中c"
    del text[1:5]
    assert str(text) == "aXb中c"


@pytest.mark.slow
def test_seph_blog_trace_replays_exactly_and_its_updates_rebuild_it(tmp_path: Path) -> None:
    trace = load_trace("seph-blog1")
    assert len(trace.patches) == 137_993
    # Non-ASCII text comes and goes mid-trace, so code points and bytes disagree there.
    assert any(not patch.insert.isascii() for patch in trace.patches)

    updates = trace_updates("seph-blog1", client_id=7, cache=tmp_path)  # a real replay
    assert len(updates) == len(trace.patches)
    assert text_after(updates) == trace.end_content

    assert trace_updates("seph-blog1", client_id=7, cache=tmp_path) == updates  # cached
    assert [p.name for p in tmp_path.iterdir()] == [
        f"seph-blog1.client7.pycrdt-{pycrdt.__version__}.updates"
    ]


def test_non_ascii_positions_are_converted(tmp_path: Path) -> None:
    end = write_trace(tmp_path, "mixed", "héllo 中", MIXED)
    trace = load_trace("mixed", directory=tmp_path)
    assert trace == Trace("mixed", "héllo 中", end, MIXED)
    updates = replay(trace, client_id=3)
    assert len(updates) == 1 + len(MIXED)  # startContent is a transaction of its own
    assert text_after(updates) == end == "llxo 文!中"


def test_environment_names_the_traces_and_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "traces").mkdir()
    end = write_trace(tmp_path / "traces", "mixed", "héllo 中", MIXED)
    monkeypatch.setenv(TRACES_ENV, str(tmp_path / "traces"))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    assert text_after(trace_updates("mixed")) == end
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_a_damaged_or_foreign_cache_file_is_replaced(tmp_path: Path) -> None:
    end = write_trace(tmp_path, "mixed", "héllo 中", MIXED)
    updates = trace_updates("mixed", directory=tmp_path, cache=tmp_path / "cache")
    (cache_file,) = (tmp_path / "cache").iterdir()
    good = cache_file.read_bytes()
    damaged = [good[:-1], good + b"\0", good.replace(b"trace=mixed", b"trace=mixes"), b""]
    for data in damaged:
        cache_file.write_bytes(data)
        assert trace_updates("mixed", directory=tmp_path, cache=tmp_path / "cache") == updates
        assert cache_file.read_bytes() == good
    assert text_after(updates) == end
    assert len(list((tmp_path / "cache").iterdir())) == 1  # no temp files left behind


def test_bad_traces_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        load_trace("absent", directory=tmp_path)
    (tmp_path / "junk.json.gz").write_bytes(gzip.compress(b'{"txns": []}'))
    with pytest.raises(TraceError, match="not an editing trace"):
        load_trace("junk", directory=tmp_path)
    with pytest.raises(ValueError, match="not a trace name"):
        load_trace("../secrets", directory=tmp_path)
    with pytest.raises(TraceError, match="did not give its endContent"):
        replay(Trace("wrong", "", "b", [Patch(0, 0, "a")]), client_id=1)
    with pytest.raises(TraceError, match=r"patch 1 \(1, 2\) reaches past the end of the text"):
        replay(Trace("past", "é", "", [Patch(0, 0, "a"), Patch(1, 2, "")]), client_id=1)
