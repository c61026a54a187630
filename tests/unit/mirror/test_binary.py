"""Whole files: last writer wins by hybrid clock, losers listed (mirror/binary.py)."""

from __future__ import annotations

from typing import Any

import pycrdt

from p2psync.mirror import binary
from p2psync.mirror.hlc import Timestamp

Doc = pycrdt.Doc[Any]


def test_a_save_replaces_the_versions_it_saw() -> None:
    doc: Doc = pycrdt.Doc(client_id=1)
    binary.put(doc, Timestamp(10, 0, b"a"), b"one")
    binary.put(doc, Timestamp(11, 0, b"a"), b"two")
    current = binary.current(doc)
    assert current is not None
    assert (current.data, current.stamp) == (b"two", Timestamp(11, 0, b"a"))
    assert binary.losers(doc) == []


def test_concurrent_saves_pick_the_later_timestamp_everywhere_and_list_the_loser() -> None:
    base: Doc = pycrdt.Doc(client_id=1)
    binary.put(base, Timestamp(10, 0, b"a"), b"base")
    a: Doc = pycrdt.Doc(client_id=2)
    b: Doc = pycrdt.Doc(client_id=3)
    for doc in (a, b):
        doc.apply_update(base.get_update())
    binary.put(a, Timestamp(20, 0, b"a"), b"alice")
    binary.put(b, Timestamp(15, 0, b"b"), b"bob")  # b's clock is behind: it loses
    a.apply_update(b.get_update(a.get_state()))
    b.apply_update(a.get_update(b.get_state()))
    for doc in (a, b):
        current = binary.current(doc)
        assert current is not None
        assert current.data == b"alice"
        assert [v.data for v in binary.losers(doc)] == [b"bob"]
    binary.drop(b, binary.losers(b))
    a.apply_update(b.get_update(a.get_state()))
    assert binary.losers(a) == []


def test_keys_sort_as_timestamps_do() -> None:
    stamps = [Timestamp(9, 5, b"z"), Timestamp(10, 0, b"a"), Timestamp(10, 1, b"a"),
              Timestamp(10, 1, b"b")]  # fmt: skip
    keys = [binary.version_key(s) for s in stamps]
    assert sorted(keys) == keys
    assert [binary.Version(k, b"").stamp for k in keys] == stamps
