"""The load/unload policy: docs idle for the configured time are offered for
unloading, least recently used first; pinned docs never are."""

from __future__ import annotations

from p2psync.daemon.residency import Residency


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_docs_are_offered_least_recently_used_first() -> None:
    clock = Clock()
    residency = Residency(60.0, clock, pinned=["manifest"])
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


def test_the_check_interval_follows_the_idle_time() -> None:
    assert Residency(60.0, Clock()).check_interval_s == 5.0
    assert Residency(0.2, Clock()).check_interval_s == 0.1
