"""Where members listen, as members tell each other (``mem`` frames, field ``a``).

With LAN discovery off, a device that joined through an invite knows only the
inviter's address, and the other members know none of its: each lists the other as a
member forever, never connected. So each member map a device sends carries the
addresses it knows first-hand — its own listen addresses, the static addresses of its
config, those LAN discovery announced, and those a device told about itself — and a
receiver dials members at the addresses it was told. Addresses told by a third device
are used, not passed on (stale ones would circulate for ever). Nothing here is stored:
the maps sent at every link bring them again after a restart.

An address told is only a place to try: a dial reaches a member only if the TLS
certificate there has its device ID, so a wrong address costs a failed dial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from p2psync.config import check_address
from p2psync.errors import ConfigError
from p2psync.ids import DeviceId
from p2psync.protocol.messages import MAX_MEMBER_ADDRESSES

MAX_ADDRESSES_PER_DEVICE = 8
"""Addresses kept (and sent) per device, as many as an invite code holds."""


class MemberAddresses:
    """Addresses of members learnt from other members, for one daemon."""

    def __init__(self, us: DeviceId) -> None:
        self._us = us
        self.own: dict[DeviceId, tuple[str, ...]] = {}
        """Addresses a device told us it listens at (first-hand: passed on)."""
        self.relayed: dict[DeviceId, tuple[str, ...]] = {}
        """Addresses a member told us another device listens at (used, not passed on)."""

    def learn(
        self, sender: DeviceId, pairs: Iterable[tuple[bytes, str]], members: set[DeviceId]
    ) -> tuple[list[DeviceId], bool]:
        """Take the (device, address) pairs member ``sender`` sent about ``members``
        (others are ignored, as are addresses that are not ``HOST:PORT``). Returns the
        devices with new addresses to dial, and whether ``sender``'s own changed."""
        told: dict[DeviceId, list[str]] = {}
        for raw, address in pairs:
            device = DeviceId(raw)
            if device == self._us or device not in members or not _is_address(address):
                continue
            kept = told.setdefault(device, [])
            if address not in kept and len(kept) < MAX_ADDRESSES_PER_DEVICE:
                kept.append(address)
        fresh = []
        own_changed = False
        for device, addresses in told.items():
            before = set(self.dial(device))
            if device == sender:
                own_changed |= self.own.get(device) != tuple(addresses)
                self.own[device] = tuple(addresses)
            else:
                self.relayed[device] = tuple(addresses)
            if set(self.dial(device)) - before:
                fresh.append(device)
        return fresh, own_changed

    def dial(self, device: DeviceId) -> tuple[str, ...]:
        """What members told us about ``device``: its own word first."""
        return tuple(dict.fromkeys((*self.own.get(device, ()), *self.relayed.get(device, ()))))


def pairs_to_send(
    members: Iterable[DeviceId], first_hand: Callable[[DeviceId], tuple[str, ...]]
) -> tuple[tuple[bytes, str], ...]:
    """The ``a`` field of a member map about ``members``: each one's first-hand
    addresses (``first_hand``), at most MAX_ADDRESSES_PER_DEVICE each and
    MAX_MEMBER_ADDRESSES in all."""
    pairs: list[tuple[bytes, str]] = []
    for device in members:
        for address in first_hand(device)[:MAX_ADDRESSES_PER_DEVICE]:
            if len(pairs) == MAX_MEMBER_ADDRESSES:
                return tuple(pairs)
            pairs.append((device.digest, address))
    return tuple(pairs)


def _is_address(text: str) -> bool:
    try:
        check_address(text)
    except ConfigError:
        return False
    return True
