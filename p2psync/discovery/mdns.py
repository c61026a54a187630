"""zeroconf -> Trio: announce this device and find the others on the LAN.

This is the only module of p2psync that touches zeroconf. zeroconf runs its own
threads (an asyncio loop, and one thread per ServiceBrowser that calls our handler).
The handler never blocks them and never waits for Trio: it records the service name
and its latest state in a lock-protected, bounded dict (:class:`_Inbox`) and, only
when that dict had no news pending, asks Trio to wake the consumer with
``TrioToken.run_sync_soon``. So at most one Trio callback is pending, and memory is
bounded by MAX_INBOX names, however many announcements arrive (the rest are dropped
and counted).

Every blocking zeroconf call (creating Zeroconf, ``register_service`` ~1.7 s of
probing, resolving a name, ``ServiceBrowser.cancel``, ``close``) runs in
``trio.to_thread``. Because the handler never waits on Trio, cancelling the browser
while it delivers an event cannot deadlock.

On the Trio side, resolved announcements go through the pure
:mod:`~p2psync.discovery.announce` parser into the bounded, expiring
:class:`~p2psync.discovery.table.PeerTable`; devices that share something with us
are handed to ``found`` (new device, new addresses, or a restart) and ``lost``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import trio
from zeroconf import (
    BadTypeInNameException,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf import Error as ZeroconfError

from p2psync.discovery.addresses import (
    MAX_ADDRESSES,
    host_port,
    links_up,
    listen_addresses,
    mdns_interfaces,
)
from p2psync.discovery.announce import (
    SERVICE_TYPE,
    MalformedAnnouncementError,
    common_shares,
    encode_txt,
    new_instance_id,
    parse_txt,
)
from p2psync.discovery.table import Change, Entry, PeerTable
from p2psync.ids import DeviceId, ShareId

log = logging.getLogger(__name__)

MAX_INBOX = 1024
"""Service names waiting to be resolved at most; more are dropped until it drains."""
RESOLVERS = 4
"""Names resolved at once (each in a worker thread)."""
RESOLVE_TIMEOUT_MS = 3000
ANNOUNCE_TTL_S = 120
"""TTL of every record we announce. zeroconf's default keeps the PTR record for 75
minutes but the SRV and address records for 2; one TTL for all means a browser
re-asks for the PTR before the others run out (the answer refreshes them all), and a
device that vanished without a goodbye drops out of caches after ANNOUNCE_TTL_S."""
REFRESH_S = 2.0
"""How often our own announcement is checked against the shares and addresses we
have, and the table against the mDNS cache (refreshing, expiring)."""
STOP_TIMEOUT_S = 5.0

T = TypeVar("T")
Found = Callable[[DeviceId, tuple[str, ...]], None]
Lost = Callable[[DeviceId], None]


class _Inbox:
    """Service names handed over by zeroconf's browser thread; thread-safe.

    ``put`` runs on the browser thread and only holds the lock for a dict update;
    ``drain`` and the wake-up run on the Trio thread.
    """

    def __init__(self, token: trio.lowlevel.TrioToken, wake: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, ServiceStateChange] = {}
        self._token: trio.lowlevel.TrioToken | None = token
        self._wake = wake
        self._wake_pending = False
        self.dropped = 0

    def handler(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: Any) -> None:
        """ServiceBrowser's handler (its keyword names are part of zeroconf's API)."""
        self.put(name, state_change)

    def put(self, name: str, state: ServiceStateChange) -> None:
        with self._lock:
            token = self._token
            if token is None:
                return
            if name not in self._names and len(self._names) >= MAX_INBOX:
                self.dropped += 1
                return
            self._names[name] = state
            if self._wake_pending:
                return
            self._wake_pending = True
        with contextlib.suppress(trio.RunFinishedError):  # nobody is left to tell
            token.run_sync_soon(self._on_wake)

    def drain(self) -> dict[str, ServiceStateChange]:
        with self._lock:
            names, self._names = self._names, {}
        return names

    def close(self) -> None:
        with self._lock:
            self._token = None

    def _on_wake(self) -> None:  # a run_sync_soon callback: must not raise
        with self._lock:
            self._wake_pending = False
        self._wake()


class LanDiscovery:
    """Announces this device over mDNS and reports the devices that share with it.

    A Trio service: ``await nursery.start(discovery.run)``. It reports readiness as
    soon as browsing has started (registration goes on in the background). If
    zeroconf cannot start (no multicast-capable interface, a socket error) it logs
    one warning and returns: static peers go on working. An unexpected error later
    (zeroconf raising, a bug) is logged and ends discovery, never the daemon.

    ``held`` gives the share IDs we hold (re-read every REFRESH_S, so the
    announcement follows shares added and removed); ``found(device, addresses)`` and
    ``lost(device)`` are called on the Trio thread for devices whose announcement
    carries the hash of one of them. ``listen`` is our ``HOST:PORT``.
    ``network_changed()`` is called when an interface or a link came back or went
    (after zeroconf has been moved onto the interfaces there are now and has
    announced us again), so that peers can be dialed at once rather than after
    their back-off.
    """

    def __init__(
        self,
        device: DeviceId,
        listen: tuple[str, int],
        versions: Iterable[int],
        *,
        held: Callable[[], Iterable[ShareId]],
        found: Found,
        lost: Lost,
        network_changed: Callable[[], None] = lambda: None,
        table: PeerTable | None = None,
    ) -> None:
        self.device = device
        self.instance_id = new_instance_id()
        self._listen = listen
        self._versions = tuple(versions)
        self._held = held
        self._found = found
        self._lost = lost
        self._network_changed = network_changed
        self.table = table or PeerTable()
        self.running = False
        self.malformed = 0
        self._zc: Zeroconf | None = None
        self._info: ServiceInfo | None = None
        self._registered = False
        self._news = trio.Event()
        self._inbox: _Inbox | None = None
        self._interfaces: list[str | int] = []
        self._links: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        """Our service's instance name."""
        return f"p2psync-{self.instance_id}.{SERVICE_TYPE}"

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Announce and browse until cancelled; on cancellation the service says
        goodbye and zeroconf's threads are stopped (bounded by STOP_TIMEOUT_S)."""
        inbox = self._inbox = _Inbox(trio.lowlevel.current_trio_token(), self._wake)
        self._interfaces, self._links = mdns_interfaces(), links_up()
        try:
            if not self._interfaces:
                raise OSError("no network interface other than loopback")
            zc = await trio.to_thread.run_sync(_start_zeroconf, self._interfaces)
        except OSError as exc:
            log.warning("LAN discovery is off: zeroconf could not start: %s", exc)
            task_status.started()
            return
        self._zc = zc
        browser: ServiceBrowser | None = None
        started = False
        try:
            browser = await _in_thread(_browse, zc, inbox)
            self.running = True
            log.info("LAN discovery on: announcing %s as %s", self.device.short(), self.name)
            async with trio.open_nursery() as nursery:
                send, receive = trio.open_memory_channel[str](MAX_INBOX)
                for _ in range(RESOLVERS):
                    nursery.start_soon(self._resolver, receive.clone())
                nursery.start_soon(self._dispatch, send)
                nursery.start_soon(self._maintain)
                task_status.started()
                started = True
        except Exception:  # discovery is a helper: its failure must not end the daemon
            log.exception("LAN discovery failed and is off; static peers go on working")
            if not started:
                task_status.started()
        finally:
            self.running = False
            inbox.close()
            with trio.CancelScope(shield=True), trio.move_on_after(STOP_TIMEOUT_S) as stop:
                await _in_thread(self._stop_zeroconf, zc, browser)
            if stop.cancelled_caught:
                log.warning("zeroconf did not stop within %g s", STOP_TIMEOUT_S)

    def _wake(self) -> None:
        self._news.set()

    def _stop_zeroconf(self, zc: Zeroconf, browser: ServiceBrowser | None) -> None:
        if browser is not None:
            browser.cancel()
        zc.close()  # says goodbye for the registered service first

    # -- our announcement ------------------------------------------------------------

    def _service_info(self) -> ServiceInfo:
        host, port = self._listen
        txt = encode_txt(self.device, self.instance_id, self._versions, self._held())
        return ServiceInfo(
            SERVICE_TYPE,
            self.name,
            port=port,
            properties=txt,
            server=f"p2psync-{self.instance_id}.local.",
            parsed_addresses=listen_addresses(host),
            host_ttl=ANNOUNCE_TTL_S,
            other_ttl=ANNOUNCE_TTL_S,
        )

    async def _follow_interfaces(self) -> None:
        """Listen and answer on the interfaces there are now (an address or a link
        came or went); zeroconf announces us again on them."""
        assert self._zc is not None
        interfaces, links = mdns_interfaces(), links_up()
        if (interfaces, links) == (self._interfaces, self._links) or not interfaces:
            return
        log.info("network changed: links up %s, mDNS on %s", sorted(links), interfaces)
        self._interfaces, self._links = interfaces, links
        try:
            await _in_thread(self._zc.update_interfaces, interfaces)
        except (ZeroconfError, OSError, RuntimeError) as exc:
            log.warning("zeroconf could not follow the network change: %s", exc)
        self._network_changed()

    async def _announce(self) -> None:
        """Register our service, or update it when what it says changed."""
        assert self._zc is not None
        info = self._service_info()
        if self._info is not None and _same(info, self._info):
            return
        zc, registered = self._zc, self._registered
        try:
            if registered:
                await _in_thread(zc.update_service, info)
            else:
                await _in_thread(zc.register_service, info)
        except (ZeroconfError, OSError) as exc:  # a name clash, a blocked loop: next time
            log.warning("could not announce %s over mDNS: %s", self.name, exc)
            return
        self._info, self._registered = info, True
        log.info("announced %s at %s", self.name, ", ".join(info.parsed_addresses()) or "-")

    async def _maintain(self) -> None:
        while True:
            await self._follow_interfaces()
            await self._announce()
            await trio.sleep(REFRESH_S)
            await self._refresh()

    async def _refresh(self) -> None:
        """Keep services whose records are still cached; drop those not seen for long."""
        zc = self._zc
        assert zc is not None
        entries = self.table.entries()
        cached = set(await _in_thread(_cached, zc, [entry.name for entry in entries]))
        for entry in entries:
            if entry.name in cached:
                self.table.touch(entry.name, time.monotonic())
            elif entry.relevant:  # a member's records ran out: ask it again
                info = await _in_thread(_resolve, zc, entry.name)
                if info is not None:
                    self._saw(entry.name, info)
        for entry in self.table.expire(time.monotonic()):
            log.info("device %s (%s) is no longer announced", entry.device_id.short(), entry.name)
            self._forget(entry)

    # -- their announcements ---------------------------------------------------------

    async def _dispatch(self, send: trio.MemorySendChannel[str]) -> None:
        """Move names from the inbox: removals at once, the rest to the resolvers."""
        assert self._inbox is not None
        async with send:
            while True:
                await self._news.wait()
                self._news = trio.Event()
                for name, state in self._inbox.drain().items():
                    if name == self.name:
                        continue
                    if state is ServiceStateChange.Removed:
                        entry = self.table.remove(name)
                        if entry is not None:
                            log.info("device %s left (%s)", entry.device_id.short(), name)
                            self._forget(entry)
                    else:
                        await send.send(name)

    async def _resolver(self, names: trio.MemoryReceiveChannel[str]) -> None:
        zc = self._zc
        assert zc is not None
        async with names:
            async for name in names:
                info = await _in_thread(_resolve, zc, name)
                if info is not None:
                    self._saw(name, info)

    def _saw(self, name: str, info: ServiceInfo) -> None:
        try:
            announcement = parse_txt(info.properties)
        except MalformedAnnouncementError as exc:
            self.malformed += 1
            log.debug("ignoring the mDNS service %r: %s", name, exc)
            return
        device = announcement.device_id
        if device == self.device:
            return  # ourselves, e.g. on another interface or a previous instance
        port = info.port or 0
        addresses = tuple(host_port(a, port) for a in info.parsed_scoped_addresses())
        relevant = bool(common_shares(announcement, self._held()))
        change = self.table.saw(
            name, announcement, addresses[:MAX_ADDRESSES], relevant=relevant, now=time.monotonic()
        )
        if change is None or change is Change.SAME:
            return
        if not relevant:
            log.debug("device %s at %s shares nothing with us", device.short(), addresses)
            return
        log.info("device %s found at %s (%s)", device.short(), ", ".join(addresses), change.value)
        self._found(device, self.table.addresses(device))

    def _forget(self, entry: Entry) -> None:
        if not entry.relevant:
            return
        remaining = self.table.addresses(entry.device_id)
        if remaining:
            self._found(entry.device_id, remaining)
        else:
            self._lost(entry.device_id)

    def snapshot(self) -> list[dict[str, Any]]:
        """The table for the control API (``peers``: ``discovered``)."""
        now_wall, now = time.time(), time.monotonic()
        return [
            {"device_id": str(e.device_id), "addresses": list(e.addresses),
             "instance_id": e.announcement.instance_id, "shares_in_common": e.relevant,
             "protocol_versions": list(e.announcement.versions),
             "last_seen": now_wall - (now - e.last_seen)}
            for e in reversed(self.table.entries())
        ]  # fmt: skip


def _start_zeroconf(interfaces: list[str | int]) -> Zeroconf:
    """Raises OSError when no interface can do multicast."""
    try:
        return Zeroconf(interfaces=interfaces, ip_version=IPVersion.All)
    except RuntimeError as exc:  # zeroconf's "no interfaces to listen on"
        raise OSError(str(exc)) from exc


def _browse(zc: Zeroconf, inbox: _Inbox) -> ServiceBrowser:
    return ServiceBrowser(zc, SERVICE_TYPE, handlers=[inbox.handler])


def _resolve(zc: Zeroconf, name: str) -> ServiceInfo | None:
    """The service's records, from the cache or asked for (blocking: a worker thread)."""
    try:
        info = ServiceInfo(SERVICE_TYPE, name)
    except BadTypeInNameException:
        return None
    if info.load_from_cache(zc) or info.request(zc, RESOLVE_TIMEOUT_MS):
        return info
    return None


def _cached(zc: Zeroconf, names: list[str]) -> list[str]:
    """Those of ``names`` whose records are still in zeroconf's cache."""
    found = []
    for name in names:
        with contextlib.suppress(BadTypeInNameException):
            if ServiceInfo(SERVICE_TYPE, name).load_from_cache(zc):
                found.append(name)
    return found


def _same(a: ServiceInfo, b: ServiceInfo) -> bool:
    return a.properties == b.properties and a.parsed_addresses() == b.parsed_addresses()


async def _in_thread(fn: Callable[..., T], *args: object) -> T:
    """Run a blocking zeroconf call in a worker thread; cancelling abandons the thread."""
    return await trio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
