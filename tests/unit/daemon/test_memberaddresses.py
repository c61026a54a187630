"""Addresses members tell each other: what is kept, dialed and passed on."""

from __future__ import annotations

from p2psync.daemon.memberaddresses import (
    MAX_ADDRESSES_PER_DEVICE,
    MemberAddresses,
    pairs_to_send,
)
from p2psync.ids import DeviceId

US, ALICE, BOB, CAROL = (DeviceId(bytes([n]) * 32) for n in range(1, 5))


def test_a_member_telling_its_own_and_anothers_addresses() -> None:
    book = MemberAddresses(US)
    pairs = (
        (ALICE.digest, "10.0.0.1:22070"),  # alice about herself: first-hand
        (BOB.digest, "10.0.0.2:22070"),  # alice about bob: used, not passed on
        (US.digest, "10.0.0.9:22070"),  # about us: ignored
        (CAROL.digest, "10.0.0.3:22070"),  # not a member here: ignored
        (BOB.digest, "not an address"),  # ignored
    )
    fresh, own_changed = book.learn(ALICE, pairs, {ALICE, BOB})
    assert (fresh, own_changed) == ([ALICE, BOB], True)
    assert book.own == {ALICE: ("10.0.0.1:22070",)}
    assert book.dial(BOB) == ("10.0.0.2:22070",)
    assert book.dial(CAROL) == ()
    # Told again: nothing new to dial, alice's own unchanged (no one is told again).
    assert book.learn(ALICE, pairs, {ALICE, BOB}) == ([], False)
    # Bob's own word comes first when dialing him.
    fresh, own_changed = book.learn(BOB, ((BOB.digest, "10.0.0.5:1"),), {ALICE, BOB})
    assert (fresh, own_changed) == ([BOB], True)
    assert book.dial(BOB) == ("10.0.0.5:1", "10.0.0.2:22070")


def test_what_is_sent_and_kept_is_bounded() -> None:
    many = tuple(f"10.0.0.{n}:1" for n in range(20))
    pairs = pairs_to_send([ALICE, BOB], lambda device: many if device == ALICE else ())
    assert pairs == tuple((ALICE.digest, a) for a in many[:MAX_ADDRESSES_PER_DEVICE])
    book = MemberAddresses(US)
    book.learn(ALICE, tuple((ALICE.digest, a) for a in many), {ALICE})
    assert len(book.dial(ALICE)) == MAX_ADDRESSES_PER_DEVICE
