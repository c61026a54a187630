"""Which addresses to announce for our listener, and how to write a peer's.

``listen_addresses`` reads the machine's interfaces (ifaddr) when the daemon listens
on a wildcard address; everything else here is pure.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import ifaddr

SYS_NET = Path("/sys/class/net")

MAX_ADDRESSES = 8
"""Addresses announced, and taken from one announcement, at most."""


def listen_addresses(host: str) -> list[str]:
    """The addresses at which a listener bound to ``host`` can be reached from the LAN:
    ``host`` itself, or for ``0.0.0.0`` every IPv4 address of the machine and for
    ``::`` every IPv6 one (loopback excluded). An AAAA record carries no scope: a
    peer reads a link-local address with the interface it arrived on."""
    wildcard = {"0.0.0.0": 4, "": 4, "::": 6}.get(host)  # noqa: S104 - read, not bound
    if wildcard is None:
        return [host]
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            text = _usable(ip.ip, wildcard)
            if text is not None and text not in found:
                found.append(text)
    return found[:MAX_ADDRESSES]


def mdns_interfaces() -> list[str | int]:
    """Where zeroconf should listen and answer: every IPv4 address and the index of
    every interface with an IPv6 address, loopback excluded (an mDNS answer on
    loopback reaches nobody, and IPv6 multicast on ``lo`` fails with an error)."""
    found: list[str | int] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            v4 = _usable(ip.ip, 4)
            if v4 is not None:
                found.append(v4)
            elif _usable(ip.ip, 6) is not None and adapter.index and adapter.index not in found:
                found.append(adapter.index)
    return found


def links_up() -> frozenset[str]:
    """Names of the interfaces with a carrier (Linux ``/sys/class/net``; elsewhere
    empty, so a link coming back is only noticed by its addresses changing)."""
    up: set[str] = set()
    for adapter in ifaddr.get_adapters():
        try:
            carrier = (SYS_NET / adapter.name / "carrier").read_text().strip()
        except OSError:  # down, not Linux, or gone meanwhile
            continue
        if carrier == "1" and adapter.name != "lo":
            up.add(adapter.name)
    return frozenset(up)


def _usable(ip: str | tuple[str, int, int], version: int) -> str | None:
    text = ip if isinstance(ip, str) else ip[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version != version or address.is_loopback or address.is_multicast:
        return None
    return text


def host_port(host: str, port: int) -> str:
    """``HOST:PORT`` as config.parse_address reads it (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
