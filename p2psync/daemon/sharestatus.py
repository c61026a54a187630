"""What the control API's ``status`` says of one share by itself: its folder, docs,
peers, conflict copies, the files it cannot sync and what it holds in memory
(docs/control-api.md). ``daemon.statusreplies`` adds what the share does not know.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence, Set
from operator import methodcaller
from weakref import WeakKeyDictionary

from p2psync.control.replies import (
    ConflictCopy,
    NotInSync,
    ResidencyStatus,
    ShareState,
    TransferStatus,
)
from p2psync.daemon.progress import files_settled
from p2psync.daemon.shares import ShareService
from p2psync.daemon.unwritten import Unwritten, unwritten
from p2psync.mirror.chunked import CHUNK_GUID
from p2psync.mirror.conflicts import list_copies
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.mirror.records import Synced
from p2psync.replica.effects import Peer
from p2psync.storage.writer import LogWriter


def share_state(service: ShareService) -> ShareState:
    """Share state for the control API (``status`` adds what the share does not know)."""
    loaded = residency_status(service.logs.writers)
    status: ShareState = {
        "id": service.name,
        "path": str(service.root),
        "docs": file_docs(service),
        "peers_in_sync": [str(p) for p in service.sync.peers() if service.sync.in_sync_with(p)],
        "peers_connected": [str(p) for p in service.sync.peers()],
        "docs_loaded": loaded["docs_loaded"],
        "loaded_bytes": loaded["loaded_bytes"],
        "conflicts": [ConflictCopy(copy=c.copy, path=c.path, why=c.why, when=c.when,
                                   device=c.device, size=c.size)
                      for c in list_copies(service.root)],
    }  # fmt: skip
    if service.stopped:
        status["stopped"] = service.stopped
    if service.mirror:
        status["filenames"] = service.mirror.mirror.names.describe()
        status["files"] = len(service.mirror.mirror.view.by_path)
        status["files_to_write"] = files_to_write(service)
    return status


FILES_TO_WRITE_EVERY_S = 1.0
"""How long a share's ``files_to_write`` count stands before it is counted again: it
was a pass over every file, and ``status`` asked ten times a second during a first
sync of 10,000 files cost the receiver a fifth more CPU (a count looks at the paths
changed since the last now, ``daemon.unwritten``; the docs waiting for the mirror
are still looked at each time)."""
_counted: WeakKeyDictionary[ShareService, tuple[float, int]] = WeakKeyDictionary()
"""Per share, when ``files_to_write`` was last counted, and the count."""

_unwritten: WeakKeyDictionary[ShareService, Unwritten] = WeakKeyDictionary()
"""Per share, the paths whose doc is here and that the mirror has not written, as
found at the last count."""

_found_written: WeakKeyDictionary[ShareService, dict[str, tuple[Synced, int, bool]]]
_found_written = WeakKeyDictionary()
"""Per share, the docs waiting for the mirror whose path is recorded with them, and
whether the file held the doc as it was (``Ledger.doc_as_synced``), with the record
and the doc's sequence number then: that hashes the doc's version (5 µs), a first
sync may have tens of thousands waiting, and ``status`` is asked every second."""


def files_to_write(service: ShareService) -> int:
    """How many files whose content this device holds the mirror has still to write
    to the folder (docs/control-api.md, ``files_to_write``): the live manifest entries
    whose doc is here and whose path has no sync record of that doc yet (a first
    sync's new files, a peer's rename; not those listed not in sync), and
    the files' docs changed other than by the mirror (a peer's edit, a first sync's
    doc whose entry the mirror has not read yet) whose change it has not taken
    (``MirrorService.docs_waiting``), unless their file is as the doc is now. The
    manifest and the chunk docs of a large file are no files (``_is_file_doc``). 0
    once the mirror is settled (``files_settled``): what it leaves unwritten then is
    in ``not_in_sync``. Counted at most once every ``FILES_TO_WRITE_EVERY_S``."""
    if service.mirror is None or files_settled(service):
        return 0
    now = time.monotonic()
    counted = _counted.get(service)
    if counted is None or now - counted[0] >= FILES_TO_WRITE_EVERY_S:
        counted = _counted[service] = (now, _count_files_to_write(service))
    return counted[1]


def _count_files_to_write(service: ShareService) -> int:
    """``files_to_write``, counted now (the share has a mirror): the unwritten paths
    kept from the last count (``daemon.unwritten``) but those with a problem, then
    the docs waiting for the mirror."""
    assert service.mirror is not None
    mirror, held = service.mirror.mirror, service.sync.replica
    kept = _unwritten[service] = unwritten(
        mirror.view, mirror.synced, held, _unwritten.get(service)
    )
    waiting = set(kept.docs.values())
    for rel in mirror.problems.paths() & kept.docs.keys():
        waiting.discard(kept.docs[rel])
    was, found = _found_written.get(service, {}), {}
    for guid in service.mirror.docs_waiting - waiting:
        entry = mirror.view.by_guid.get(guid)
        if not _is_file_doc(guid) or guid not in held or (entry is not None and entry.deleted):
            continue
        record = mirror.synced.get(entry.path) if entry is not None else None
        if entry is None or record is None or record.guid != guid:
            waiting.add(guid)
            continue
        key = (record, held.sequence_of(guid))
        seen = was.get(guid)
        written = seen[2] if seen is not None and seen[:2] == key else None
        if written is None:
            written = mirror.ledger.doc_as_synced(entry.path)
        found[guid] = (*key, written)
        if not written:
            waiting.add(guid)
    _found_written[service] = found
    return len(waiting)


def not_in_sync(service: ShareService) -> list[NotInSync]:
    """The files the mirror cannot sync, then the docs a peer's update failed on
    (docs/control-api.md, ``not_in_sync``)."""
    mirror = service.mirror.mirror if service.mirror else None
    listed = [NotInSync(path=p["path"], kind=p["kind"], reason=p["reason"])
              for p in (mirror.problems.listing() if mirror else [])]  # fmt: skip
    for guid, why in sorted(service.failing_docs.items()):
        entry = mirror.view.by_guid.get(guid) if mirror else None
        listed.append({"path": entry.path if entry else guid, "kind": "doc-failing",
                       "reason": why})  # fmt: skip
    return listed


def transfer_status(service: ShareService, peer: Peer) -> TransferStatus:
    """What ``peer`` is sending of this share now and what we send it
    (``replica.transfer``), counted in files: the docs that are a file's (not the
    manifest, not the chunk docs of a large file, told apart by their guids, since the
    manifest may come last). What was sent is what the peer holds of it: the docs whose
    whole answer the link wrote and that its index says it holds at our version (not
    what sits in the connection's buffers, docs/decisions.md); the bytes still to send
    are estimated by the docs' log sizes (``ShareSync.sizes``); of the files it lacks,
    those it was told of and did not ask for (``ShareSync.unasked``). Zeros for a
    peer that is not connected."""
    transfer, sending = service.sync.transfer(peer), service.sync.sending(peer)
    unasked = service.sync.unasked(peer)
    if transfer is None or sending is None or unasked is None:
        return summed([])
    asked, received, received_bytes, expected_bytes = transfer
    written, whole, lacking = sending
    held = whole - lacking
    unsent = sum(max(0, (service.sync.sizes(g) or 0) - written.get(g, 0)) for g in lacking - whole)
    return {
        "files_expected": _files_among(asked),
        "files_received": _files_among(received),
        "bytes_received": received_bytes,
        "bytes_expected": expected_bytes,
        "files_to_send": _files_among(whole | lacking),
        "files_sent": _files_among(held),
        "bytes_to_send": sum(written.values()) + unsent,
        "bytes_sent": sum(written[g] for g in held),
        "files_unasked": _files_among(unasked),
    }


def _is_file_doc(guid: str) -> bool:
    return guid != MANIFEST_GUID and not (
        guid.startswith(CHUNK_PREFIX) and CHUNK_GUID.fullmatch(guid) is not None
    )


CHUNK_PREFIX = "c:"
"""How every chunk guid begins (``CHUNK_GUID``)."""
_chunk_like = methodcaller("startswith", CHUNK_PREFIX)


def _files_among(guids: Set[str]) -> int:
    """How many of ``guids`` are a file's docs (``_is_file_doc``): the manifest and the
    chunk docs left out. Only the guids that begin as a chunk guid does are matched
    against it, the others passed over without a call into Python: a first sync's
    transfer holds every doc of the share, and ``status`` counts it five times a call."""
    chunks = sum(CHUNK_GUID.fullmatch(guid) is not None for guid in filter(_chunk_like, guids))
    return len(guids) - (MANIFEST_GUID in guids) - chunks


def summed(transfers: Sequence[TransferStatus]) -> TransferStatus:
    """Transfers added up (a share's members', a peer's shares'): bytes expected is
    None if one of them does not know it."""
    expected = [t["bytes_expected"] for t in transfers]
    return {
        "files_expected": sum(t["files_expected"] for t in transfers),
        "files_received": sum(t["files_received"] for t in transfers),
        "bytes_received": sum(t["bytes_received"] for t in transfers),
        "bytes_expected": None if None in expected else sum(e or 0 for e in expected),
        "files_to_send": sum(t["files_to_send"] for t in transfers),
        "files_sent": sum(t["files_sent"] for t in transfers),
        "bytes_to_send": sum(t["bytes_to_send"] for t in transfers),
        "bytes_sent": sum(t["bytes_sent"] for t in transfers),
        "files_unasked": sum(t["files_unasked"] for t in transfers),
    }


def file_docs(service: ShareService) -> int:
    """How many docs the share holds besides its manifest."""
    return len(service.sync.replica) - (MANIFEST_GUID in service.sync.replica)


def residency_status(writers: Mapping[str, LogWriter]) -> ResidencyStatus:
    """How many docs are in memory, and roughly how much they hold: the bytes of their
    logs (a doc's memory is of the order of its encoded size)."""
    return {
        "docs_loaded": len(writers),
        "loaded_bytes": sum(w.log.end for w in writers.values()),
    }
