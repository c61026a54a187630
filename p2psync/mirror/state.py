"""What the mirror last synced per path: durable sync records, written ahead.

A file of the share and its doc meet through a **sync record** per path: the doc it
holds, the SHA-256 of the bytes last synced (written by the daemon or read from a
save) and the **merge base**: a Yjs state whose text is exactly those bytes and
whose every change is in the doc (a one-doc text file; binary and chunked files keep
none). A save is diffed against the base in a scratch doc at that state, so what the
doc gained since the file was synced (a peer's edit, an append by another program,
made while the daemon was down or in the moment before it saved) is merged with the
save, never turned into deletions. A chunked file's base is its layout, whose chunk
bases are kept as blobs beside the records (``mirror.chunkbases``); the table counts
which records name each blob, and removes a blob once none does.

Records live in ``.p2psync/synced/``, one file per path, and are ordered with the
actions they describe so that a crash at any point is recognised on the next start:

1. ``prepare``: the record of what is about to be true (a file the daemon is about
   to write, or a save about to be applied to the doc) is written as
   ``<key>.next`` and fdatasynced;
2. the action: the file is replaced, or the save's update is stored in the doc;
3. ``commit``: ``<key>.next`` is renamed over ``<key>``.

On load, a ``.next`` left by a crash is kept if the file on disk shows the write
happened, else dropped (the action never happened): by its digest (the written
bytes, or the bytes of the record before); failing both (a program saved the file
since), by which of the two merge bases its text is nearer (``write_happened``),
or, for a file keeping no text base, by its inode; if no file is there at all, it
is held in memory as *unconfirmed* until the first batch ends: a new file it pairs
with by inode or text is the written file renamed while the daemon was down
(``confirm``), and it is never told as a delete (the write may never have happened:
``drop_unconfirmed``).
A save's is written as ``<key>.save`` and always kept, whatever the file holds
since (a program may have replaced it while the daemon was down): its base holds the
save, and dropping it left a record whose base lacked a save the doc held, so the
next save added its lines again. A kept one is listed in ``SyncTable.promoted``,
whose bases the mirror applies to their docs once (a save whose update was not stored
yet; applying a base twice changes nothing); a save's stays written ahead until its
base is durable in the doc (``commit_promoted``), so a crash before that keeps it
again. A record is written only after the doc changes it names are durable, so a
committed base is always in its doc.

A record also holds the file's stat, so a file renamed while the daemon was down is
still known by its inode, and the key of the doc's version whose content the file is
(``version_key``; empty if not known), so a restart need not read a file whose stat
and doc are both as recorded. (A share from before these records has only
``.p2psync/mirror.json``'s digests, without bases or stats.)

Reading 100,000 record files at start took 3 s with the files in the page cache and
17 s without (after a reboot: one random read each). A daemon that stops in order
therefore leaves the whole table in one file, ``synced/table.pack`` (``save_pack``:
each record without its merge base, which ``base`` reads from the record's own file
when a save needs it, and with the chunk bases it names), and the next start reads
that instead when it can (``_load_pack``). The pack only stands for the records
while none of them changed: before any record file is written, replaced or removed,
the pack is removed and the folder fsynced (``_unpack``), so a crash after that finds
no pack and reads the files. A start also reads the files when anything else is in
the folder (a record written ahead, a temp file) or when the record files are not
exactly those the pack names.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import msgpack

from p2psync.mirror.chunkbases import BaseBlobs, BlobRefs
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.kinds import file_digest
from p2psync.mirror.records import (
    RECORD_KEY_CHARS,
    RECORDS_DIR,
    OnDisk,
    Record,
    Synced,
    encode_record,
    framed,
    on_disk,
    read_record,
    record_key,
    unframed,
    write_happened,
)
from p2psync.replica.touched import Touched
from p2psync.storage.fileops import REAL_FILE_OPS, write_file_atomically
from p2psync.storage.layout import marker_dir

log = logging.getLogger(__name__)

PENDING_SUFFIX = ".next"
SAVE_SUFFIX = ".save"
"""The write-ahead record of a save about to be stored in its doc, or of a new file
whose doc is stored: kept at load whatever the file holds since (its base is applied
to the doc again, which changes nothing if the save was stored), unlike a file
write's, kept only if the file shows the write happened."""
LEGACY_FILE = "mirror.json"
LEGACY_VERSION = 1
PACK_NAME = "table.pack"
"""The whole table in one file, left by a daemon that stopped in order."""
PACK_MAGIC = b"P2PSTP\x00\x01"


class Unconfirmed(NamedTuple):
    """A write-ahead record of a file write a crash cut off, whose file is gone."""

    path: Path
    """The ``.next`` file."""
    before: Synced | None
    """The record the path had before (None: the file was new here): the file as it
    was if the write never happened, which a user may have renamed."""


class SyncTable:
    """The sync records of one share folder, in memory and in ``.p2psync/synced/``.

    Reads are a mapping (``get``, ``in``, ``items``); every change goes through a
    method that stores it. Blocking file I/O: each call is a few small system calls
    (``prepare`` adds one fdatasync).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dir = marker_dir(root) / RECORDS_DIR
        self._synced: dict[str, Synced] = {}
        self._paths: dict[str, str] = {}
        """Doc guid -> the path last recorded with it."""
        self._pending: dict[str, tuple[Record, Path]] = {}
        self.promoted: set[str] = set()
        """Paths whose write-ahead record was kept at load: their base is to be
        applied to their doc once (``Mirror`` does it before anything else), then
        ``commit_promoted``; a save's stays written ahead until then."""
        self.unconfirmed: dict[str, Unconfirmed] = {}
        """Paths whose write a crash cut off and whose file is gone at load: their
        ``.next`` is their record, in memory only, to pair a file renamed while the
        daemon was down (``settle_unconfirmed``); never told as deletes, dropped after
        the first batch (``drop_unconfirmed``)."""
        self.blobs = BaseBlobs(root)
        """The chunk bases the layouts of chunked files' records name."""
        self._refs = BlobRefs(self.blobs)
        self.packed = False
        """Whether ``table.pack`` stands for the records on disk (``_unpack``)."""
        self.touched = Touched()
        """The paths whose record changed since ``status`` last counted the files to
        write (``daemon.unwritten``)."""
        self._pack_lock = threading.Lock()
        self._load()

    # -- reading -----------------------------------------------------------------

    def get(self, rel: str) -> Synced | None:
        return self._synced.get(rel)

    def __getitem__(self, rel: str) -> Synced:
        return self._synced[rel]

    def __contains__(self, rel: object) -> bool:
        return rel in self._synced

    def __iter__(self) -> Iterator[str]:
        return iter(self._synced)

    def __len__(self) -> int:
        return len(self._synced)

    def items(self) -> list[tuple[str, Synced]]:
        return list(self._synced.items())

    def path_of(self, guid: str) -> str | None:
        """The path whose record names doc ``guid``, if any."""
        return self._paths.get(guid)

    def base(self, rel: str) -> bytes:
        """The merge base of ``rel`` (b"" if it keeps none)."""
        record = read_record(self._dir / record_key(rel))
        if record is None or record.path != rel:
            return b""
        return record.base

    def promoted_base(self, rel: str) -> bytes:
        """The merge base of the record of ``rel`` kept from a crash (``promoted``):
        a save's, still written ahead, or the record's."""
        pending = self._pending.get(rel)
        return pending[0].base if pending is not None else self.base(rel)

    # -- changing ----------------------------------------------------------------

    def commit_promoted(self, rel: str) -> None:
        """The record of ``rel`` kept from a crash has its base in its doc now: a
        save's, written ahead till now, is the record."""
        if rel in self._pending:
            self.commit(rel)

    def prepare(self, rel: str, synced: Synced, base: bytes, *, save: bool = False) -> None:
        """Write ahead, durably, what ``rel`` is about to hold (``synced.stat``: the
        file's stat then, if known): a file the daemon is about to write, or a
        ``save`` about to be stored in its doc. ``commit`` makes it the record once
        done; ``abort`` drops it if the action did not happen."""
        record = Record(rel, synced.guid, synced.digest, synced.stat, base, synced.version)
        self.abort(rel)
        self._unpack()
        path = _write_ahead(self._dir, record, SAVE_SUFFIX if save else PENDING_SUFFIX)
        self._pending[rel] = (record, path)
        self._refs.refer(rel + PENDING_SUFFIX, base)

    def write_ahead_file(self, rel: str, synced: Synced, base: bytes) -> Path:
        """What ``prepare`` writes for a file about to be written at ``rel``, a path
        with no record, and nothing else: the table is not changed, so a worker thread
        may write those of many paths at once (``mirror.newwrites``). Once the file is
        written, ``commit_ahead`` makes it the record on disk and ``adopt_new`` the
        table's; if it is not, it is removed. Returns its path."""
        record = Record(rel, *synced[:3], base, synced.version)
        self._unpack()  # ``commit_ahead`` follows: no other call before it changes a record
        return _write_ahead(self._dir, record, PENDING_SUFFIX)

    def commit(self, rel: str) -> None:
        """The prepared action of ``rel`` happened: its record is now the one."""
        record, path = self._pending.pop(rel)
        self._unpack()
        path.replace(self._dir / record_key(rel))
        self._set(rel, record.synced)
        self._refs.refer(rel, record.base)
        self._refs.refer(rel + PENDING_SUFFIX, b"")

    def abort(self, rel: str) -> None:
        """The prepared action of ``rel`` did not happen (or another replaces it)."""
        held = self._pending.pop(rel, None)
        if held is not None:
            with contextlib.suppress(FileNotFoundError):
                held[1].unlink()
            self._refs.refer(rel + PENDING_SUFFIX, b"")

    def put(self, rel: str, synced: Synced, base: bytes | None = None) -> None:
        """Record ``rel`` as ``synced`` (with merge base ``base``; None keeps the one on
        disk if the doc and digest are unchanged, else none). Commits a prepared
        record of the same doc, digest and stat instead of writing a new one."""
        pending = self._pending.get(rel)
        if pending is not None and pending[0].synced == synced:
            self.commit(rel)
            return
        self.abort(rel)
        held = self._synced.get(rel)
        if held == synced and base is None:
            return
        if base is None and held is not None and held[:2] == synced[:2]:
            base = self.base(rel)
        self._write(Record(rel, *synced[:3], base or b"", synced.version))
        self._set(rel, synced)

    def write_ahead_new(self, records: Sequence[tuple[str, Synced, bytes]]) -> None:
        """Write ahead the records (path, what it holds, merge base) of new files
        whose docs are stored and whose entries are about to be: a crash between the
        entries and ``write_new`` leaves these, which a restart keeps whatever the
        file holds since, as a save's (``.save``): they stand for what the docs hold,
        so a save made while the daemon was down is merged into its doc, and a file
        renamed then pairs by its inode or text. (Without them the entry would name a
        file with no record, written again from its doc beside the renamed one;
        dropped as a write that never happened when the file was saved meanwhile, the
        save went to a conflict copy and the doc was written over it.) Each is written
        in place, not through a temp file: a torn one fails its CRC and reads as an
        action not started. Blocking and touching only files (not fsynced, as
        ``write_new``); no table change."""
        self._unpack()
        for rel, synced, base in records:
            record = Record(rel, *synced[:3], base, synced.version)
            _write_ahead(self._dir, record, SAVE_SUFFIX, sync=False)

    def write_new(self, records: Sequence[tuple[str, Synced, bytes]]) -> None:
        """Make the records (path, what it holds, merge base) that ``write_ahead_new``
        wrote the paths' records, each by one rename (not fsynced, as ``put``); one
        gone meanwhile is written again atomically. Blocking and touching only files,
        so a worker thread may run it for a group of new files; ``adopt_new`` then
        makes them the table's records."""
        self._unpack()
        for rel, synced, base in records:
            target = self._dir / record_key(rel)
            try:
                target.with_name(target.name + SAVE_SUFFIX).replace(target)
            except FileNotFoundError:
                self._write_files([(rel, synced, base)], "")

    def _write_files(self, records: Sequence[tuple[str, Synced, bytes]], suffix: str) -> list[Path]:
        """Write each record's file (its key plus ``suffix``) atomically; their paths."""
        self._dir.mkdir(parents=True, exist_ok=True)
        self._unpack()
        written = []
        for rel, synced, base in records:
            target = self._dir / (record_key(rel) + suffix)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(encode_record(Record(rel, *synced[:3], base, synced.version)))
            tmp.replace(target)
            written.append(target)
        return written

    def adopt_new(self, records: Sequence[tuple[str, Synced, bytes]]) -> None:
        """The records ``write_new`` wrote are the table's now."""
        for rel, synced, base in records:
            self.abort(rel)
            self._set(rel, synced)
            self._refs.refer(rel, base)

    def move(self, old: str, new: str, stat: FileStat | None) -> None:
        """``old`` was renamed ``new`` (same doc, same bytes, same base). An
        unconfirmed record moves as one (``_move_unconfirmed``)."""
        if old in self.unconfirmed:
            self._move_unconfirmed(old, new)
            return
        held = self._synced[old]
        moved = held._replace(stat=stat if stat is not None else held.stat)
        self._write(Record(new, *moved[:3], self.base(old), moved.version))
        self._set(new, moved)
        self.pop(old)

    def _move_unconfirmed(self, old: str, new: str) -> None:
        """``move`` of a record whose write a crash cut off (a peer renamed its file
        while the daemon was down, and the file is gone here): its record before, if
        any, and its record written ahead both move to ``new``, which stays
        unconfirmed. Moved as a plain record, it kept no merge base when the file was
        new here, and the delete then read at ``new`` was told with the doc's whole
        state, covering every edit peers had made meanwhile."""
        cut_off = self.unconfirmed.pop(old)
        self._unpack()
        base = self.base(old)
        if cut_off.before is not None:
            self._write(Record(new, *cut_off.before[:3], base, cut_off.before.version))
        ahead = read_record(cut_off.path)
        path = cut_off.path
        if ahead is not None:
            path = _write_ahead(self._dir, ahead._replace(path=new), PENDING_SUFFIX)
            self._refs.refer(new + PENDING_SUFFIX, ahead.base)
        self._set(new, self._synced[old])
        self.pop(old)
        if path != cut_off.path:
            cut_off.path.unlink(missing_ok=True)
            self._refs.refer(old + PENDING_SUFFIX, b"")
        self.unconfirmed[new] = Unconfirmed(path, cut_off.before)

    def pop(self, rel: str) -> None:
        """``rel`` is no longer synced (deleted, or never was)."""
        self._unpack()
        self.abort(rel)
        cut_off = self.unconfirmed.pop(rel, None)
        if cut_off is not None:
            cut_off.path.unlink(missing_ok=True)
            self._refs.refer(rel + PENDING_SUFFIX, b"")
        held = self._synced.pop(rel, None)
        if held is not None:
            self.touched.add(rel)
            if self._paths.get(held.guid) == rel:
                del self._paths[held.guid]
            with contextlib.suppress(FileNotFoundError):
                (self._dir / record_key(rel)).unlink()
            self._refs.refer(rel, b"")

    def _set(self, rel: str, synced: Synced) -> None:
        held = self._synced.get(rel)
        if held != synced:
            if held is not None and self._paths.get(held.guid) == rel:
                del self._paths[held.guid]
            self._synced[rel] = synced
            self._paths[synced.guid] = rel
            self.touched.add(rel)

    def _write(self, record: Record) -> None:
        """Replace the record of its path atomically (not fsynced: after a power
        loss an older record names an older digest, and the file then reads as a
        save against an older base)."""
        self._write_files([(record.path, record.synced, record.base)], "")
        self._refs.refer(record.path, record.base)

    # -- loading -----------------------------------------------------------------

    def _load(self) -> None:
        if not self._dir.is_dir():
            self._synced = _read_legacy(self.root)  # digests, without bases or stats
            self._paths = {synced.guid: rel for rel, synced in self._synced.items()}
            return
        names = {p.name for p in self._dir.iterdir()}
        if self._load_pack(names):
            return
        names.discard(PACK_NAME)
        for name in sorted(names):
            if name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    (self._dir / name).unlink()
                continue
            if name.endswith((PENDING_SUFFIX, SAVE_SUFFIX)):
                continue
            record = read_record(self._dir / name)
            if record is not None and record_key(record.path) == name:
                self._synced[record.path] = record.synced
                self._refs.refer(record.path, record.base, loading=True)
        for name in sorted(n for n in names if n.endswith((PENDING_SUFFIX, SAVE_SUFFIX))):
            self._settle(self._dir / name)
        self._paths = {synced.guid: rel for rel, synced in self._synced.items()}
        self._refs.prune()

    def _load_pack(self, names: set[str]) -> bool:
        """Read the table from its pack if it stands for the record files ``names``
        are (and nothing else is in the folder); else remove it, and False."""
        if PACK_NAME not in names:
            return False
        pack = self._dir / PACK_NAME
        records = _read_pack(pack)
        if records is None or names != {PACK_NAME, *map(record_key, records)}:
            if records is not None:
                log.info("%s: the sync records changed since they were packed; reading "
                         "each", self.root)  # fmt: skip
            pack.unlink(missing_ok=True)
            return False
        for rel, (synced, blobs) in records.items():
            self._synced[rel] = synced
            self._refs.refer_keys(rel, blobs, loading=True)
        self._paths = {synced.guid: rel for rel, synced in self._synced.items()}
        self._refs.prune()
        self.packed = True
        return True

    def save_pack(self) -> bool:
        """Write the whole table as one file for the next start to read (the daemon
        stopping in order: nothing may change a record meanwhile). Nothing is written
        while an action is under way or a crash's record written ahead is left (the
        next start must see those files); True if written. Raises OSError."""
        if self.packed or self._pending or self.unconfirmed or not self._dir.is_dir():
            return False
        names = (p.name for p in self._dir.iterdir())
        if any(name != PACK_NAME and not _is_record_name(name) for name in names):
            return False
        rows = [[rel, synced.guid, synced.digest, list(synced.stat or ()), synced.version,
                 sorted(self._refs.named_by(rel))]
                for rel, synced in self._synced.items()]  # fmt: skip
        write_file_atomically(self._dir / PACK_NAME, framed(PACK_MAGIC, rows), mode=0o600)
        self.packed = True
        return True

    def _unpack(self) -> None:
        """A record file is about to change: remove the pack first, durably, so that
        no later start takes it for the records. Called from worker threads too."""
        if not self.packed:
            return
        with self._pack_lock:
            if self.packed:
                (self._dir / PACK_NAME).unlink(missing_ok=True)
                REAL_FILE_OPS.fsync_dir(self._dir)
                self.packed = False

    def _settle(self, path: Path) -> None:
        """A write-ahead record left by a crash: keep it if its action happened."""
        record = read_record(path)
        save = path.name.endswith(SAVE_SUFFIX)
        suffix = SAVE_SUFFIX if save else PENDING_SUFFIX
        if record is None or path.name != record_key(record.path) + suffix:
            path.unlink(missing_ok=True)
            return
        disk = on_disk(self.root, record.path)
        happened = save or (
            disk is not None
            and write_happened(record, self._synced.get(record.path), self.base(record.path), disk)
        )
        if not happened and disk is None and record.stat is not None:
            # The file is gone: never written, or written and then renamed while the
            # daemon was down. Held in memory only, to pair a rename (``confirm``).
            before = self._synced.get(record.path)
            self._synced[record.path] = record.synced
            self._refs.refer(record.path + PENDING_SUFFIX, record.base, loading=True)
            self.unconfirmed[record.path] = Unconfirmed(path, before)
            return
        if not happened:
            path.unlink(missing_ok=True)
            return
        if save:
            # Left written ahead until its save is in the doc (``commit_promoted``): a
            # crash before that finds it here again. Made the record now, a crash
            # left a record whose base held a save its doc lacked, and the file as
            # recorded: the save was never stored, and the doc written over it.
            self._pending[record.path] = (record, path)
            self._refs.refer(record.path + PENDING_SUFFIX, record.base, loading=True)
        else:
            path.replace(path.with_name(record_key(record.path)))
            self._refs.refer(record.path, record.base, loading=True)
        self._synced[record.path] = record.synced
        self.promoted.add(record.path)
        log.info("%s: kept the sync record written ahead of the last action on %s",
                 self.root, record.path)  # fmt: skip

    def settle_unconfirmed(self, rel: str, data: bytes, stat: FileStat) -> bool:
        """The unconfirmed record of ``rel`` paired a renamed file that holds ``data``
        (at ``stat``): whether the cut-off write happened, as that file tells
        (``write_happened``: the user may have renamed the file as it was before the
        write). If it did, the record written ahead is the record now (as ``commit``);
        if not, the record before it is again. A write of a file new here that did
        not happen pairs nothing: the record stays unconfirmed (False)."""
        held = self.unconfirmed[rel]
        self._unpack()
        ahead = read_record(held.path)
        disk = OnDisk(data, file_digest(data), stat.ino)
        if ahead is not None and write_happened(ahead, held.before, self.base(rel), disk):
            held.path.replace(held.path.with_name(record_key(rel)))
            self._refs.refer(rel, ahead.base)
        elif held.before is not None:
            held.path.unlink(missing_ok=True)
            self._set(rel, held.before)
        else:
            return False
        del self.unconfirmed[rel]
        self._refs.refer(rel + PENDING_SUFFIX, b"")
        return True

    def drop_unconfirmed(self, rel: str) -> None:
        """Forget the unconfirmed record of ``rel``: nothing paired it, so its write
        may never have happened."""
        dropped = self._synced.pop(rel, None)
        self.touched.add(rel)
        if dropped is not None and self._paths.get(dropped.guid) == rel:
            del self._paths[dropped.guid]
        self.unconfirmed.pop(rel).path.unlink(missing_ok=True)
        self._refs.refer(rel + PENDING_SUFFIX, b"")


def _is_record_name(name: str) -> bool:
    """Whether ``name`` is a committed record's file (a key: 40 hex digits)."""
    return len(name) == RECORD_KEY_CHARS and all(c in "0123456789abcdef" for c in name)


def _read_pack(path: Path) -> dict[str, tuple[Synced, frozenset[str]]] | None:
    """The records in the pack at ``path`` (each with the chunk bases it names), None
    if it is torn or damaged (logged)."""
    try:
        records = {}
        rows = unframed(PACK_MAGIC, path.read_bytes())
        for rel, guid, digest, stat, version, blobs in rows:
            held = FileStat(*map(int, stat)) if stat else None
            synced = Synced(str(guid), bytes(digest), held, bytes(version))
            records[str(rel)] = (synced, frozenset(map(str, blobs)))
    except (OSError, ValueError, TypeError, msgpack.UnpackException) as exc:
        log.warning("ignoring the damaged sync record pack %s: %s", path, exc)
        return None
    return records


def commit_ahead(ahead: Path) -> None:
    """The write a record ahead (``SyncTable.write_ahead_file``) was written for
    happened: it is the path's record on disk now."""
    ahead.replace(ahead.with_name(ahead.name.removesuffix(PENDING_SUFFIX)))


def _write_ahead(folder: Path, record: Record, suffix: str, *, sync: bool = True) -> Path:
    """Write ``record`` in place in ``folder`` as its path's key plus ``suffix`` (a
    torn one fails its CRC), fdatasynced if ``sync``; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (record_key(record.path) + suffix)
    with path.open("wb") as file:
        file.write(encode_record(record))
        if sync:
            file.flush()
            os.fdatasync(file.fileno())
    return path


def _read_legacy(root: Path) -> dict[str, Synced]:
    """The digests ``.p2psync/mirror.json`` held before sync records existed."""
    path = marker_dir(root) / LEGACY_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("version") != LEGACY_VERSION:
            return {}
        return {
            str(rel): Synced(str(guid), bytes.fromhex(digest), None)
            for rel, (guid, digest) in body["files"].items()
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring the unreadable mirror state %s: %s", path, exc)
        return {}
