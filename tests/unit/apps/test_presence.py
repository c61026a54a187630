"""Presence, sans I/O: who may change which awareness state, the 30 s timeout, and
the bounds on what a peer can make a device hold."""

from __future__ import annotations

from p2psync.apps.presence import ENTRY_COST, Presence, PresenceLimits
from p2psync.protocol.messages import AwarenessState

DOC = ("share", "doc")
OTHER_DOC = ("share", "other")
APP, OTHER_APP = object(), object()


def state(client: int, clock: int, text: str = '{"name": "ada"}') -> AwarenessState:
    return AwarenessState(client, clock, text)


def gone(client: int, clock: int) -> AwarenessState:
    return AwarenessState(client, clock, "null")


def test_an_apps_state_is_taken_and_replaced_only_by_a_newer_one() -> None:
    presence = Presence()
    assert presence.from_app(DOC, APP, [state(1, 1)], now=0) == [state(1, 1)]
    assert presence.from_app(DOC, APP, [state(1, 1, '{"name": "bob"}')], now=1) == []
    assert presence.from_app(DOC, APP, [state(1, 0)], now=1) == []
    assert presence.from_app(DOC, APP, [state(1, 2, "{}")], now=1) == [state(1, 2, "{}")]
    assert presence.states(DOC) == [state(1, 2, "{}")]
    # A removal at the same clock removes (y-protocols' rule).
    assert presence.from_app(DOC, APP, [gone(1, 2)], now=2) == [gone(1, 2)]
    assert presence.states(DOC) == []


def test_an_echo_changes_nothing() -> None:
    # y-websocket clients send back the states they receive.
    presence = Presence()
    presence.from_app(DOC, APP, [state(1, 1)], now=0)
    presence.from_peer(DOC, "bob", [state(2, 1)], now=0)
    echo = [state(1, 9, "{}"), state(2, 9, "{}"), gone(1, 9), gone(2, 9)]
    assert presence.from_app(DOC, OTHER_APP, echo, now=1) == []
    assert presence.claims(DOC, OTHER_APP, echo) == set()
    assert presence.claims(DOC, APP, [state(1, 9), state(3, 1)]) == {1, 3}
    assert sorted(presence.states(DOC), key=lambda s: s.client) == [state(1, 1), state(2, 1)]


def test_a_peer_never_changes_a_local_apps_state() -> None:
    presence = Presence()
    presence.from_app(DOC, APP, [state(1, 1)], now=0)
    assert presence.from_peer(DOC, "mallory", [state(1, 50, "{}"), gone(1, 50)], now=0) == []
    assert presence.states(DOC) == [state(1, 1)]


def test_states_flood_once() -> None:
    # A state passed on by several peers is taken (and passed on) only the first time.
    presence = Presence()
    assert presence.from_peer(DOC, "bob", [state(2, 1)], now=0) == [state(2, 1)]
    assert presence.from_peer(DOC, "carol", [state(2, 1)], now=0) == []
    assert presence.from_peer(DOC, "carol", [state(2, 2)], now=0) == [state(2, 2)]
    assert presence.peer_bytes == {"carol": ENTRY_COST + len(state(2, 2).state)}


def test_an_app_that_leaves_has_its_states_removed_with_a_higher_clock() -> None:
    presence = Presence()
    presence.from_app(DOC, APP, [state(1, 4), state(5, 1)], now=0)
    presence.from_app(OTHER_DOC, APP, [state(1, 4)], now=0)
    presence.from_app(DOC, OTHER_APP, [state(2, 1)], now=0)
    left = presence.app_left(APP, now=1)
    assert left == {DOC: [gone(1, 5), gone(5, 2)], OTHER_DOC: [gone(1, 5)]}
    assert presence.states(DOC) == [state(2, 1)]
    assert presence.app_left(APP, now=2) == {}


def test_a_state_not_renewed_in_time_is_removed_everywhere() -> None:
    presence = Presence(PresenceLimits(timeout_s=30))
    presence.from_app(DOC, APP, [state(1, 1)], now=0)
    presence.from_peer(DOC, "bob", [state(2, 1)], now=10)
    assert presence.expire(now=29) == {}
    presence.from_app(DOC, APP, [state(1, 2)], now=25)  # renewed
    expired = presence.expire(now=40)
    assert expired[DOC].states == [gone(2, 2)]
    assert expired[DOC].local == []  # a peer's: that peer times it out itself
    expired = presence.expire(now=56)
    assert expired[DOC].states == expired[DOC].local == [gone(1, 3)]
    assert presence.states(DOC) == []


def test_a_removed_state_is_not_revived_by_an_older_one_until_forgotten() -> None:
    presence = Presence(PresenceLimits(timeout_s=30))
    presence.from_peer(DOC, "bob", [state(2, 3)], now=0)
    presence.from_peer(DOC, "bob", [gone(2, 4)], now=1)
    assert presence.from_peer(DOC, "carol", [state(2, 3)], now=2) == []  # relayed late
    assert presence.expire(now=40) == {}
    assert presence.docs == {}
    assert presence.peer_bytes == {}
    assert presence.from_peer(DOC, "carol", [state(2, 3)], now=41) == [state(2, 3)]


def test_what_a_peer_makes_this_device_hold_is_bounded() -> None:
    limit = 10 * (ENTRY_COST + 1000)
    presence = Presence(PresenceLimits(peer_bytes=limit))
    big = '"' + "x" * 998 + '"'
    for n in range(100):  # many docs, many clients
        presence.from_peer(("share", f"doc{n}"), "mallory", [state(n, 1, big)], now=n)
    assert presence.peer_bytes["mallory"] <= limit
    assert sum(len(doc) for doc in presence.docs.values()) == 10
    assert presence.dropped == 90
    # Replacing its own states fits in what they took; another peer has its own bound.
    assert presence.from_peer(("share", "doc0"), "mallory", [state(0, 2, big)], now=101) != []
    assert presence.from_peer(DOC, "bob", [state(500, 1, big)], now=101) != []


def test_a_peer_telling_too_many_states_a_second_has_the_rest_dropped() -> None:
    presence = Presence(PresenceLimits(peer_states_per_s=10, peer_burst=20))
    taken = presence.from_peer(DOC, "mallory", [state(n, 1) for n in range(50)], now=0)
    assert len(taken) == 20
    assert presence.dropped == 30
    later = [state(n, 1) for n in range(50, 60)]
    assert len(presence.from_peer(DOC, "mallory", later, now=1)) == 10  # 10 a second
    others = [state(n, 1) for n in range(100, 120)]
    assert len(presence.from_peer(DOC, "bob", others, now=1)) == 20  # a bucket per peer
