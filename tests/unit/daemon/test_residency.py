"""The load/unload policy: docs idle for the configured time are offered for
unloading, least recently used first; kept docs (the manifest) after that everyday
grace only, even after a crowd."""

from __future__ import annotations

import pytest

from p2psync.daemon import residency as residency_module
from p2psync.daemon.residency import Residency


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_docs_are_offered_least_recently_used_first() -> None:
    clock = Clock()
    residency = Residency(60.0, clock, kept=["manifest"])
    for guid in ["a", "b", "manifest"]:
        residency.touch(guid)
        clock.now += 1
    assert residency.idle(["a", "b", "manifest"]) == []
    clock.now += 57.5
    assert residency.idle(["a", "b", "manifest"]) == ["a"]
    clock.now += 1
    assert residency.idle(["b", "a", "manifest"]) == ["a", "b"]
    residency.touch("a")
    assert residency.idle(["a", "b"]) == ["b"]
    assert not residency.is_idle("manifest")
    residency.forget("b")
    assert residency.is_idle("b")  # a doc never touched is idle
    clock.now += 1
    assert residency.idle(["a", "manifest"]) == ["manifest"]  # 60 s untouched


def test_the_check_interval_follows_the_idle_time() -> None:
    assert Residency(60.0, Clock()).check_interval_s == 2.0  # the grace after a crowd
    assert Residency(60.0, Clock(), crowd_idle_s=30.0).check_interval_s == 5.0
    assert Residency(0.2, Clock()).check_interval_s == 0.1


def test_after_a_crowd_of_docs_idle_ones_leave_soon_down_to_a_few() -> None:
    clock = Clock()
    residency = Residency(60.0, clock, kept=["manifest"], crowd=20, crowd_idle_s=2.0)
    few = [f"doc{i}" for i in range(19)]
    for guid in ["manifest", *few]:
        residency.touch(guid)
    clock.now += 2.5
    assert residency.idle(few) == []  # 20 loaded, the kept one included: no crowd yet
    assert not residency.crowded
    many = [f"doc{i}" for i in range(40)]
    for guid in many[19:]:
        residency.touch(guid)  # a first sync: one doc per file
    clock.now += 2.5
    residency.touch("doc0")  # in use
    leaving = residency.idle(many)
    assert leaving == many[1:]
    assert residency.crowded
    assert not residency.is_idle("manifest")  # 5 s untouched in a crowd: the everyday grace
    for guid in leaving[:-8]:
        residency.forget(guid)
    assert residency.is_idle(leaving[-8])  # still after the crowd: 10 loaded
    assert residency.crowded
    residency.forget(leaving[-8])
    residency.forget(leaving[-7])  # down to 8, the floor: the longer grace again
    assert not residency.is_idle(leaving[-1])
    assert not residency.crowded
    clock.now += 55
    assert residency.is_idle("manifest")
    assert residency.is_kept("manifest")
    assert not residency.is_kept("doc0")


def test_a_doc_a_peer_changed_keeps_the_longer_grace_until_mirrored() -> None:
    clock = Clock()
    residency = Residency(60.0, clock, crowd=20, crowd_idle_s=2.0)
    many = [f"doc{i}" for i in range(40)]
    for guid in many:
        residency.touch(guid)  # a first sync: a crowd
    residency.unmirrored("doc0")  # its file not written yet
    residency.unmirrored("doc1")
    clock.now += 2.5
    assert residency.crowded
    assert residency.idle(many) == many[2:]  # the mirror still reads doc0 and doc1
    residency.mirrored(["doc1"])
    assert residency.idle(many) == many[1:]
    clock.now += 60
    assert residency.is_idle("doc0")  # a mirror that never gets to it holds it no longer
    residency.forget("doc0")
    residency.touch("doc0")  # loaded again: as any doc
    clock.now += 2.5
    assert residency.is_idle("doc0")


def test_past_a_limit_a_doc_a_peer_changed_leaves_memory_as_any_in_a_crowd(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A first sync so large the mirror is far behind: held until written, the docs
    # a peer changed would stay loaded by the ten thousand (a file descriptor each).
    monkeypatch.setattr(residency_module, "UNMIRRORED_LIMIT", 30)
    clock = Clock()
    residency = Residency(60.0, clock, crowd=20, crowd_idle_s=2.0)
    many = [f"doc{i}" for i in range(40)]
    for guid in many:
        residency.touch(guid)
        residency.unmirrored(guid)
    clock.now += 2.5
    assert residency.idle(many) == many  # over the limit: the crowd's grace
    for guid in many[:15]:
        residency.forget(guid)
    assert residency.idle(many[15:]) == []  # under it again: held until mirrored
