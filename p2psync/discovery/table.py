"""The table of devices seen over mDNS: bounded, expiring, keyed by service name.

Pure: the caller passes the clock. Anyone on the LAN can announce anything, so the
table trusts nothing it holds (an address is only a place to try: the TLS pin decides
who is there) and its size is bounded whatever arrives:

- at most ``max_entries`` services; when full, the least recently seen service that
  shares nothing with us is evicted first, and a new one that shares nothing is
  dropped rather than evict one that does;
- at most MAX_SERVICES_PER_DEVICE services claim one device ID (the newest are kept),
  so replaying a member's announcement from many names gives few addresses to try;
- a service not seen for ``expiry_s`` is dropped by ``expire``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from enum import Enum

from p2psync.discovery.announce import Announcement
from p2psync.ids import DeviceId

MAX_ENTRIES = 512
MAX_SERVICES_PER_DEVICE = 4
EXPIRY_S = 180.0
"""A service neither re-announced nor found in the mDNS cache for this long is gone."""


class Change(Enum):
    """What a sighting told us about its service."""

    NEW = "new"
    MOVED = "moved"  # other addresses
    RESTARTED = "restarted"  # another instance ID: the daemon restarted
    SAME = "same"


@dataclass(frozen=True, slots=True)
class Entry:
    """One announced service."""

    name: str
    announcement: Announcement
    addresses: tuple[str, ...]
    """``HOST:PORT`` strings (IPv6 as ``[addr]:port``), as announced."""
    relevant: bool
    """It carries the hash of a share we hold."""
    first_seen: float
    last_seen: float

    @property
    def device_id(self) -> DeviceId:
        return self.announcement.device_id


class PeerTable:
    """Services seen on the LAN, bounded and expiring (see the module docstring)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, expiry_s: float = EXPIRY_S) -> None:
        self.max_entries = max_entries
        self.expiry_s = expiry_s
        self._entries: OrderedDict[str, Entry] = OrderedDict()  # least recently seen first
        self.dropped = 0
        """Sightings refused or evicted because the table was full."""

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        """Every service, least recently seen first."""
        return list(self._entries.values())

    def saw(
        self,
        name: str,
        announcement: Announcement,
        addresses: tuple[str, ...],
        *,
        relevant: bool,
        now: float,
    ) -> Change | None:
        """Record a sighting of service ``name``; None if the table had no room for it."""
        old = self._entries.pop(name, None)
        if old is None:
            if not self._make_room(announcement.device_id, relevant=relevant):
                self.dropped += 1
                return None
            self._entries[name] = Entry(name, announcement, addresses, relevant, now, now)
            return Change.NEW
        self._entries[name] = replace(
            old, announcement=announcement, addresses=addresses, relevant=relevant, last_seen=now
        )
        if old.announcement.instance_id != announcement.instance_id:
            return Change.RESTARTED
        if old.addresses != addresses or old.device_id != announcement.device_id:
            return Change.MOVED
        return Change.SAME

    def touch(self, name: str, now: float) -> None:
        """The service is still there (its records are still in the mDNS cache)."""
        entry = self._entries.pop(name, None)
        if entry is not None:
            self._entries[name] = replace(entry, last_seen=now)

    def remove(self, name: str) -> Entry | None:
        """Forget service ``name`` (it said goodbye); returns its entry if there was one."""
        return self._entries.pop(name, None)

    def expire(self, now: float) -> list[Entry]:
        """Drop and return the services not seen for ``expiry_s``."""
        gone = [e for e in self._entries.values() if now - e.last_seen > self.expiry_s]
        for entry in gone:
            del self._entries[entry.name]
        return gone

    def addresses(self, device: DeviceId) -> tuple[str, ...]:
        """Every address announced for ``device``, most recently seen first."""
        found: list[str] = []
        for entry in reversed(self._entries.values()):
            if entry.device_id == device:
                found.extend(a for a in entry.addresses if a not in found)
        return tuple(found)

    def _make_room(self, device: DeviceId, *, relevant: bool) -> bool:
        same_device = [e for e in self._entries.values() if e.device_id == device]
        if len(same_device) >= MAX_SERVICES_PER_DEVICE:
            del self._entries[same_device[0].name]  # the least recently seen of them
        if len(self._entries) < self.max_entries:
            return True
        victim = next((e for e in self._entries.values() if not e.relevant), None)
        if victim is None and relevant:
            victim = next(iter(self._entries.values()))
        if victim is None:
            return False
        del self._entries[victim.name]
        self.dropped += 1
        return True
