"""hlc: a total order of versions, monotonic local time, bounded drift from peers."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psync.mirror.hlc import (
    MAX_COUNTER,
    MAX_DRIFT_MS,
    HybridClock,
    Timestamp,
)

A, B = b"\x01" * 32, b"\x02" * 32


class FakeWall:
    """A wall clock the test sets by hand."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


timestamps = st.builds(
    Timestamp,
    st.integers(0, 2**45),
    st.integers(0, MAX_COUNTER),
    st.binary(min_size=1, max_size=64),
)


def test_order_is_wall_then_counter_then_device() -> None:
    assert Timestamp(1, 9, B) < Timestamp(2, 0, A)
    assert Timestamp(5, 1, B) < Timestamp(5, 2, A)
    assert Timestamp(5, 2, A) < Timestamp(5, 2, B)
    assert Timestamp(5, 2, A) == Timestamp(5, 2, A)


@given(timestamps, timestamps)
def test_property_order_is_total_and_wire_form_round_trips(x: Timestamp, y: Timestamp) -> None:
    assert (x < y) + (x > y) + (x == y) == 1
    packed = msgpack.packb(x.to_wire())
    assert Timestamp.from_wire(msgpack.unpackb(packed)) == x


@pytest.mark.parametrize(
    "value",
    [
        None,
        [1, 2],
        [1, 2, b"d", 4],
        ["1", 2, b"d"],
        [1, 2.0, b"d"],
        [True, 0, b"d"],
        [1, 2, "device"],
        [-1, 0, b"d"],
        [1, MAX_COUNTER + 1, b"d"],
        [1, 0, b""],
        [1, 0, b"x" * 65],
        [2**63, 0, b"d"],
    ],
)
def test_from_wire_refuses_malformed(value: object) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        Timestamp.from_wire(value)


def test_tick_follows_the_wall_clock_and_counts_within_a_millisecond() -> None:
    wall = FakeWall(1000)
    clock = HybridClock(A, wall)
    assert clock.tick() == Timestamp(1000, 0, A)
    assert clock.tick() == Timestamp(1000, 1, A)
    wall.ms = 1005
    assert clock.tick() == Timestamp(1005, 0, A)


def test_tick_never_goes_back_when_the_wall_clock_does() -> None:
    wall = FakeWall(1000)
    clock = HybridClock(A, wall)
    first = clock.tick()
    wall.ms = 10
    second = clock.tick()
    assert second > first
    assert second == Timestamp(1000, 1, A)


def test_counter_overflow_borrows_the_next_millisecond() -> None:
    clock = HybridClock(A, FakeWall(7))
    clock.observe(Timestamp(7, MAX_COUNTER, A))
    assert clock.tick() == Timestamp(8, 0, A)


@given(st.lists(st.tuples(st.integers(-5, 5_000), st.booleans(), timestamps), max_size=40))
def test_property_ticks_strictly_increase_and_follow_what_was_observed(
    steps: list[tuple[int, bool, Timestamp]],
) -> None:
    wall = FakeWall(0)
    clock = HybridClock(A, wall)
    previous = clock.tick()
    for ms, observe, remote in steps:
        wall.ms = ms
        if observe:
            within = clock.observe(remote)
            assert within == (remote.wall_ms <= ms + MAX_DRIFT_MS)
        stamp = clock.tick()
        assert stamp > previous
        assert stamp.device == A
        if observe and within:
            assert stamp > remote
        previous = stamp


def test_observe_merges_a_remote_time_ahead() -> None:
    wall = FakeWall(1000)
    clock = HybridClock(A, wall)
    assert clock.observe(Timestamp(1500, 3, B))
    stamp = clock.tick()
    assert stamp == Timestamp(1500, 4, A)
    assert stamp > Timestamp(1500, 3, B)


def test_remote_far_in_the_future_moves_the_clock_only_to_the_bound() -> None:
    wall = FakeWall(1_000_000)
    clock = HybridClock(A, wall)
    future = Timestamp(1_000_000 + 365 * 86_400_000, 0, B)
    assert clock.observe(future) is False
    stamp = clock.tick()
    assert stamp.wall_ms == 1_000_000 + MAX_DRIFT_MS
    assert stamp < future


def test_a_save_after_seeing_a_future_version_still_replaces_it() -> None:
    wall = FakeWall(1_000_000)
    clock = HybridClock(A, wall)
    future = Timestamp(2_000_000_000, 5, B)
    clock.observe(future)
    save = clock.tick_after(future)
    assert save > future
    assert save.device == A
    # The clock itself did not jump to the future version's time.
    assert clock.tick().wall_ms <= 1_000_000 + MAX_DRIFT_MS
    # And a save over that save is later again.
    assert clock.tick_after(save) > save


def test_tick_after_an_older_version_is_a_plain_tick() -> None:
    wall = FakeWall(5000)
    clock = HybridClock(A, wall)
    assert clock.tick_after(Timestamp(10, 0, B)) == Timestamp(5000, 0, A)


def test_a_wall_clock_out_of_range_is_clamped() -> None:
    assert HybridClock(A, lambda: -50).tick() == Timestamp(0, 1, A)
    assert HybridClock(A, lambda: 2**70).tick().wall_ms == 2**63 - 1
