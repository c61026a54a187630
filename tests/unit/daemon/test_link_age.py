"""A link's age, which decides whether a second link from its device replaces it, is
measured on the monotonic clock: a wall-clock jump changes nothing."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
import trio

from p2psync.daemon import links
from p2psync.daemon.links import DUPLICATE_WINDOW_S
from p2psync.daemon.peerinfo import Link


def link(**fields: Any) -> Link:
    send, receive = trio.open_memory_channel[Any](1)
    return Link(cast(Any, None), send, receive, **fields)


def test_a_link_up_longer_than_the_window_is_stale() -> None:
    assert not links._stale(link())
    assert links._stale(link(up_at=time.monotonic() - DUPLICATE_WINDOW_S - 1))


def test_a_wall_clock_jump_does_not_make_a_new_link_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fresh = link()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3_600)  # the clock jumps an hour
    assert not links._stale(fresh)
