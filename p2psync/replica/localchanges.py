"""Changes that start on this device, turned into effects (``replica.sync``).

A local app's update or in-place edit, an app client's update, updates another
process appended to a log, and docs that appeared on or came back from disk: each is
applied to the share's replica, stored (``Persist``) unless it is durable already, and
flooded to the connected members (``replica.outbox``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from p2psync.protocol.messages import SyncStep1
from p2psync.protocol.yjs import DocVersion, encode_state_vector
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import AppApplied, Effect, Persist, Quarantine, Reload, Send
from p2psync.replica.outbox import flood
from p2psync.replica.syncstate import SyncState
from p2psync.storage.compaction import YDoc

log = logging.getLogger(__name__)


def local_update(sync: SyncState, guid: str, update: bytes) -> list[Effect]:
    """A local app changed doc ``guid``: store ``update`` as given, then flood.

    Raises UpdateError if it is not a Yjs v1 update (nothing is stored).
    """
    doc = sync.replica.get_or_create(guid)
    integrated = doc.apply(update)
    effects: list[Effect] = [Persist(guid, [update])]
    if integrated:
        sync.replica.touch(guid)
        effects += flood(sync, guid, integrated, source=None)
    return effects


def app_update(sync: SyncState, guid: str, update: bytes) -> AppApplied:
    """A local app's update (docs/apps.md): checked exactly as a peer's
    (``DocReplica.apply_many`` with ``remote``: a malformed update is refused, one
    that depends on changes the doc lacks is not applied), then stored and flooded
    as a local change. A pycrdt panic ends in Quarantine and Reload effects."""
    held = sync.replica.get(guid)
    doc = held if held is not None else DocReplica(guid)
    applied = doc.apply_many([update], remote=True)
    effects: list[Effect] = []
    if applied.integrated:
        if held is None:
            sync.replica.add(doc)
        sync.replica.touch(guid)
        effects = [Persist(guid, applied.integrated)]
        effects += flood(sync, guid, applied.integrated, source=None)
    if applied.error is not None and doc.poisoned and held is not None:
        effects += [Quarantine(guid, [update], str(applied.error)), Reload(guid)]
    return AppApplied(effects, applied.integrated, applied.error, applied.missing)


def local_edit(sync: SyncState, guid: str, edit: Callable[[YDoc], None]) -> list[Effect]:
    """Change doc ``guid`` (created if new) in place with ``edit`` as a local
    change: store and flood what it produced (DocReplica.local_edit)."""
    doc = sync.replica.get_or_create(guid)
    integrated = doc.local_edit(edit)
    if not integrated:
        return []
    sync.replica.touch(guid)
    return [Persist(guid, integrated), *flood(sync, guid, integrated, source=None)]


def stored_updates(sync: SyncState, guid: str, updates: list[bytes]) -> list[Effect]:
    """Updates another local process appended to the log of ``guid`` (already
    durable): apply and flood. Malformed ones are skipped and logged."""
    doc = sync.replica.get_or_create(guid)
    integrated: list[bytes] = []
    while updates:
        applied = doc.apply_many(updates)
        integrated += applied.integrated
        if applied.error is None or applied.failed_at is None or doc.poisoned:
            break
        log.warning("share %s: skipped an update appended to the log: %s", sync.name,
                    applied.error)  # fmt: skip
        updates = updates[applied.failed_at + 1 :]
    if not integrated:
        return []
    sync.replica.touch(guid)
    return flood(sync, guid, integrated, source=None)


def doc_appeared(sync: SyncState, guid: str) -> list[Effect]:
    """A doc was loaded from a log that appeared while running (another process
    created it): send its whole state to every peer at once, so their live updates
    never wait on a base that only the next index exchange would bring."""
    doc = sync.replica.get(guid)
    if doc is None:
        return []
    sync.replica.touch(guid)
    return flood(sync, guid, [doc.full_state()], source=None)


def doc_loaded(sync: SyncState, guid: str, recorded: DocVersion) -> list[Effect]:
    """Doc ``guid`` was loaded and holds more than its ``recorded`` version
    (another process appended to its log while it was unloaded): flood the rest."""
    doc = sync.replica.get(guid)
    if doc is None:
        return []
    return flood(sync, guid, [doc.diff(encode_state_vector(recorded.state_vector))], source=None)


def doc_lost(sync: SyncState, guid: str) -> list[Effect]:
    """Doc ``guid`` lost changes on disk (its log deleted while unloaded): ask every
    connected peer we take changes from for what we now miss."""
    effects: list[Effect] = []
    sv = sync.replica.state_vector(guid)
    for peer, state in sync.peers.items():
        if sync.policy.takes_from(peer) and state.ask(guid):
            effects.append(Send(peer, SyncStep1(sync.share_id, guid, sv)))
    return effects
