"""New pending devices are rate-limited: a burst, then one per interval."""

from __future__ import annotations

from p2psync.daemon.pendingrate import PendingRate


def test_a_burst_then_one_per_interval() -> None:
    rate = PendingRate(burst=3, interval_s=2.0)
    assert [rate.allow(0.0) for _ in range(5)] == [True, True, True, False, False]
    assert not rate.allow(1.0)
    assert rate.allow(2.1)
    assert not rate.allow(2.2)
    assert [rate.allow(100.0) for _ in range(4)] == [True, True, True, False]  # capped
