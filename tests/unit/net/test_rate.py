"""RateMeter: bytes per second over a sliding window, with a fake clock."""

from __future__ import annotations

import pytest

from p2psync.net.rate import RateMeter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_meter_reports_zero() -> None:
    clock = Clock()
    meter = RateMeter(clock=clock)
    clock.now += 3
    assert meter.rate() == 0.0


def test_young_meter_reports_over_at_least_one_second() -> None:
    clock = Clock()
    meter = RateMeter(clock=clock)
    meter.add(500)
    clock.now += 0.01
    assert meter.rate() == pytest.approx(500.0)


def test_steady_traffic_gives_its_rate_and_old_traffic_is_forgotten() -> None:
    clock = Clock()
    meter = RateMeter(window_s=5.0, clock=clock)
    for _ in range(20):  # 1000 B/s for 20 s, in tenths of a second
        for _ in range(10):
            meter.add(100)
            clock.now += 0.1
    assert meter.rate() == pytest.approx(1000.0, rel=0.25)
    clock.now += 6
    assert meter.rate() == 0.0
