"""The persisted index as the sync engine sees it: what to trust at start-up, what to
write back. No I/O: the daemon reads and writes the file (``storage.indexstore``).

At start, a doc whose log still has the size and mtime its record names is held
unloaded at the recorded version; any other log (changed while we were down, or not in
the index) is read again. An index that was not written by an orderly shutdown keeps
its doc records but takes a new index ID: peers may have seen sequence numbers it
never recorded, and a new ID makes them ask for the whole index once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Set
from dataclasses import dataclass, field

from p2psync.protocol.yjs import DocVersion
from p2psync.replica.sync import ShareSync
from p2psync.storage.indexstore import DocRecord, PeerRecord, StoredIndex

log = logging.getLogger(__name__)

LogStat = tuple[int, int]
"""A log file's size and mtime in nanoseconds."""


@dataclass(frozen=True, slots=True)
class StartPlan:
    """What start-up does with each log: hold ``trusted`` docs unloaded at their
    recorded version, read ``reread`` ones (their old record, if any, in ``recorded``)."""

    trusted: dict[str, DocRecord] = field(default_factory=dict)
    reread: list[str] = field(default_factory=list)
    recorded: dict[str, DocRecord] = field(default_factory=dict)


def plan_start(stored: StoredIndex | None, logs: dict[str, LogStat]) -> StartPlan:
    """Decide which of ``logs`` (guid → stat of every log on disk) must be read."""
    records = stored.docs if stored is not None else {}
    plan = StartPlan()
    for guid in sorted(logs):
        record = records.get(guid)
        if record is not None and (record.log_size, record.log_mtime_ns) == logs[guid]:
            plan.trusted[guid] = record
        else:
            plan.reread.append(guid)
            if record is not None:
                plan.recorded[guid] = record
    return plan


def version_of(record: DocRecord) -> DocVersion:
    return DocVersion(record.state_vector, record.delete_digest)


def restore(
    sync: ShareSync,
    stored: StoredIndex | None,
    plan: StartPlan,
    parse_peer: Callable[[str], Hashable | None],
) -> None:
    """Set up a fresh engine from ``stored``: the index ID (kept only after a clean
    shutdown), the sequence, every doc of the plan unloaded at its recorded version
    (re-read ones are loaded next and count as changed if they differ), and what
    each peer's index told us. ``parse_peer`` maps a stored peer key back to a peer
    (None: skipped)."""
    if stored is None:
        return
    replica = sync.replica
    if stored.clean:
        replica.index_id = stored.index_id
    replica.max_sequence = max(replica.max_sequence, stored.max_sequence)
    for guid, record in (*plan.trusted.items(), *plan.recorded.items()):
        replica.register(guid, version_of(record), record.sequence)
    for key, peer_record in stored.peers.items():
        peer = parse_peer(key)
        if peer is None:
            name = sync.share_id.hex()[:8]
            log.warning("share %s: skipped an unknown peer %r in the index", name, key)
            continue
        versions = {g: (s, _shared(replica.version(g), v, d))
                    for g, (s, v, d) in peer_record.versions.items()}  # fmt: skip
        sync.remember(peer, peer_record.index_id, peer_record.max_sequence, versions,
                      refused=peer_record.refused)  # fmt: skip


def reread(sync: ShareSync, guid: str, version: DocVersion) -> int:
    """Hold doc ``guid``, whose log was read again at start-up, unloaded at ``version``:
    it counts as changed (a new sequence number) if it is new or differs from what the
    index recorded. Returns its sequence number."""
    replica = sync.replica
    sequence = replica.sequence_of(guid)
    if guid not in replica or replica.version(guid) != version:
        sequence = replica.max_sequence + 1
    replica.register(guid, version, sequence)
    return sequence


def _shared(ours: DocVersion | None, vector: dict[int, int], digest: bytes) -> DocVersion:
    """A peer's version of a doc, as our own version object when they are equal (the
    usual case once in sync): memory for 10,000 docs is held once, not once per peer."""
    theirs = DocVersion(vector, digest)
    return ours if ours == theirs and ours is not None else theirs


def snapshot(
    sync: ShareSync,
    records: dict[str, DocRecord],
    *,
    clean: bool,
    unstored: Set[str] = frozenset(),
) -> StoredIndex:
    """The index to persist: ``records`` (the durable record of each doc, those of
    docs the share no longer holds left out) and what every peer told us, short of
    the docs ``unstored`` (in memory, not durable yet: asked for again after a crash)."""
    replica = sync.replica
    docs = {guid: records[guid] for guid in replica.guids() if guid in records}
    peers = {
        str(peer): PeerRecord(index_id, max_sequence,
                              {g: (s, v.state_vector, v.delete_digest)
                               for g, (s, v) in versions.items()},
                              not sync.policy.takes_from(peer))
        for peer, (index_id, max_sequence, versions) in sync.remembered(unstored).items()
    }  # fmt: skip
    return StoredIndex(replica.index_id, replica.max_sequence, clean, docs, peers)
