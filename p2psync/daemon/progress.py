"""Sync progress of the shares: percentages for status, and ``share-in-sync`` events.

A share is in sync when at least one member is connected, every connected member
has told us it holds exactly our version of every doc, and its files are what its
docs say (nothing waits for its mirror). Percentages count (doc, connected member)
pairs that are in sync and never read 100 while a member is behind.
SyncProgress watches every share and publishes ``share-in-sync`` when a share is in
sync with content or connected members it was not last announced in sync with (so
each change that reaches every connected member is announced once, even when it
synced between two checks); it compares versions only when the engine moved.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import trio

from p2psync.daemon.events import EventBus
from p2psync.daemon.shares import ShareService
from p2psync.ids import ShareId
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.replica.sync import ShareSync

PROGRESS_CHECK_INTERVAL_S = 0.2
ALMOST_DONE_PCT = 99.9  # the most a member that is not fully in sync can show


def member_sync_pct(sync: ShareSync, peer: Hashable) -> float:
    """How much of ``sync``'s share a connected ``peer`` holds, as a percentage."""
    if sync.in_sync_with(peer):
        return 100.0
    in_sync, docs = sync.sync_counts(peer)
    if not docs:
        return 0.0
    return min(ALMOST_DONE_PCT, round(100.0 * in_sync / docs, 1))


def share_sync_pct(sync: ShareSync) -> float | None:
    """Mean of the connected members' percentages; None with no member connected."""
    peers = sync.peers()
    if not peers:
        return None
    return round(sum(member_sync_pct(sync, p) for p in peers) / len(peers), 1)


def share_remaining_docs(sync: ShareSync) -> int:
    """Docs still to sync with the connected members: for each member not in sync, the
    docs either side holds that it does not hold at our version (a doc counts once per
    member it differs with, as the percentage counts them). 0 with no member connected
    or every one in sync; it falls as the docs of a first sync arrive."""
    remaining = 0
    for peer in sync.peers():
        if not sync.in_sync_with(peer):
            in_sync, docs = sync.sync_counts(peer)
            remaining += docs - in_sync
    return remaining


def share_in_sync(sync: ShareSync) -> bool:
    """At least one member connected, and every connected member in sync."""
    peers = sync.peers()
    return bool(peers) and all(sync.in_sync_with(p) for p in peers)


def files_settled(service: ShareService) -> bool:
    """The share's folder holds what its docs say, as far as it knows (no work waits
    for its mirror, ``MirrorService.settled``); a share with no mirror always does,
    and a stopped one takes nothing more (its status says why it stopped)."""
    return bool(service.stopped) or service.mirror is None or service.mirror.settled


class SyncProgress:
    """Publishes ``share-in-sync`` when a share catches up. Run it in a nursery."""

    def __init__(self, shares: Callable[[], dict[ShareId, ShareService]], events: EventBus) -> None:
        self._shares = shares
        self._events = events
        self._markers: dict[ShareId, tuple[object, ...]] = {}
        self._published: dict[ShareId, tuple[object, ...]] = {}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Check every share a few times a second until cancelled."""
        task_status.started()
        while True:
            self.check()
            await trio.sleep(PROGRESS_CHECK_INTERVAL_S)

    def check(self) -> None:
        """Compare each share's state with the last check; publish what caught up."""
        shares = self._shares()
        for gone in set(self._markers) - set(shares):
            del self._markers[gone]
            self._published.pop(gone, None)
        for share_id, service in shares.items():
            sync = service.sync
            settled = files_settled(service)
            marker = (sync.progress_marker(), settled)
            if self._markers.get(share_id) == marker:
                continue
            self._markers[share_id] = marker
            content = (sync.replica.max_sequence, len(sync.replica), frozenset(sync.peers()))
            if self._published.get(share_id) != content and settled and share_in_sync(sync):
                self._published[share_id] = content
                self._events.publish(
                    "share-in-sync",
                    share=str(share_id),
                    path=str(service.root),
                    members=[str(p) for p in sync.peers()],
                    docs=len(sync.replica) - (MANIFEST_GUID in sync.replica),
                )
