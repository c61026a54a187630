"""A device that exceeded a limit is kept out for a growing, capped interval."""

from __future__ import annotations

from p2psync.daemon.penalties import PENALTY_FORGET_S, PENALTY_MAX_S, PENALTY_MIN_S, Penalties


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_interval_doubles_up_to_the_cap_and_expires() -> None:
    clock = Clock()
    penalties = Penalties(clock)
    assert penalties.remaining("d") == 0.0
    assert penalties.punish("d") == PENALTY_MIN_S
    assert penalties.remaining("d") == PENALTY_MIN_S
    assert penalties.remaining("other") == 0.0
    clock.now += PENALTY_MIN_S
    assert penalties.remaining("d") == 0.0
    assert penalties.punish("d") == 2 * PENALTY_MIN_S
    assert penalties.punish("d") == 4 * PENALTY_MIN_S
    for _ in range(20):
        last = penalties.punish("d")
    assert last == PENALTY_MAX_S


def test_a_quiet_hour_starts_over() -> None:
    clock = Clock()
    penalties = Penalties(clock)
    penalties.punish("d")
    penalties.punish("d")
    clock.now += PENALTY_FORGET_S + 1
    assert penalties.punish("d") == PENALTY_MIN_S
