"""What the control API's methods need of a running daemon (``ControlHost``).

The methods (``daemon.api``, ``daemon.joins``, ``daemon.historyapi``) see the daemon
only through this Protocol: the shares and the config through the ``ShareRegistry``,
the connections, membership, discovery and the apps endpoint each as what they are.
``Daemon`` is one; a test may build another.
"""

from __future__ import annotations

from typing import Protocol

from p2psync.daemon.apps import AppEndpoint
from p2psync.daemon.events import EventBus
from p2psync.daemon.membership import MembershipService
from p2psync.daemon.peers import PeerManager
from p2psync.daemon.registry import ShareRegistry
from p2psync.discovery import LanDiscovery
from p2psync.net.identity import Identity


class ControlHost(Protocol):
    """The services the control API works with (read-only: it never replaces one)."""

    @property
    def registry(self) -> ShareRegistry: ...

    @property
    def peers(self) -> PeerManager: ...

    @property
    def membership(self) -> MembershipService: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def identity(self) -> Identity: ...

    @property
    def listen_address(self) -> str:
        """Where the daemon listens for peers (``HOST:PORT``)."""

    @property
    def discovery(self) -> LanDiscovery | None:
        """LAN discovery, None while mDNS is off."""

    @property
    def apps(self) -> AppEndpoint | None:
        """The apps endpoint, None if ``[apps] enabled = false``."""
