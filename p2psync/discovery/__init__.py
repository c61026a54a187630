"""LAN discovery over mDNS: the one place where zeroconf's threads cross into Trio.

Exports:

- :class:`LanDiscovery` -- the Trio service that announces this device
  (``_p2psync._tcp.local.``) and reports the devices that share something with it.
- :class:`PeerTable` -- the pure, bounded, expiring table of announced services.
- :func:`encode_txt`, :func:`parse_txt`, :func:`share_hash`, :func:`common_shares`
  -- the pure TXT record format and its salted share hashes (docs/discovery.md).

Modules: ``mdns`` (zeroconf's threads -> Trio), ``announce`` (the TXT record and share
hashes), ``table`` (the table of devices seen), ``addresses`` (which addresses to
announce, and how to write a peer's).

No other module of p2psync imports zeroconf (an import contract in pyproject.toml).
"""

from p2psync.discovery.announce import (
    SERVICE_TYPE,
    Announcement,
    MalformedAnnouncementError,
    common_shares,
    encode_txt,
    new_instance_id,
    parse_txt,
    share_hash,
)
from p2psync.discovery.mdns import LanDiscovery
from p2psync.discovery.table import Change, Entry, PeerTable

__all__ = [
    "SERVICE_TYPE",
    "Announcement",
    "Change",
    "Entry",
    "LanDiscovery",
    "MalformedAnnouncementError",
    "PeerTable",
    "common_shares",
    "encode_txt",
    "new_instance_id",
    "parse_txt",
    "share_hash",
]
