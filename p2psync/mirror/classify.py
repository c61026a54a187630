"""What ``Mirror.reconcile`` does with a path: one decision, no I/O.

``classify`` takes what the ledger recorded for the path (``Synced``), what the
manifest names there (its live ``Entry``), and what the disk holds (the bytes and
their stat, None: no file), and returns the ``Action``. The mirror reads the file
before and carries the action out after (docs/mirror.md, "The file ↔ doc engine").
"""

from __future__ import annotations

from enum import Enum

from p2psync.mirror.fileio import FileStat
from p2psync.mirror.kinds import file_digest
from p2psync.mirror.manifest import Entry
from p2psync.mirror.records import Synced

TRUNCATION_HOLD_S = 1.0
"""A synced file found empty within this long of its last change is not read yet: a
program that truncates and then writes is mid-save, and its emptiness would be a
delete of the whole text (and a write from the doc meanwhile would replace the file
under the writer). It is read once it has held still this long."""
EMPTY_DIGEST = file_digest(b"")


class Action(Enum):
    """What is done with a path."""

    DELETE = "delete"
    """No file where one was synced with the entry's doc: a delete here (held first)."""
    WRITE = "write"
    """The doc's content is written to the file if they differ (no file, or the file
    as last synced), then recorded."""
    CHMOD = "chmod"
    """The file as last synced but its executable bit changed here: the entry takes
    it, then as ``WRITE``."""
    FORGET = "forget"
    """No file and no entry: the record of the path is dropped."""
    NOTHING = "nothing"
    """Nothing to do now (no file and nothing recorded, or the entry's file is still
    recorded at the path it is being renamed from)."""
    WAIT = "wait"
    """A synced file just emptied: left alone, looked at again later."""
    CREATE = "create"
    """A file no entry names: a new file (or a rename here, paired by the renames)."""
    FOLLOW = "follow"
    """A file no entry names that was synced with a doc: saved here while a peer
    renamed it, if its entry moved (else as ``CREATE``)."""
    SAVE = "save"
    """The file changed since it was synced with the entry's doc: a save here."""
    MEET = "meet"
    """A file never synced with the entry's doc meets it (diffed, never seeded)."""


def classify(
    entry: Entry | None,
    synced: Synced | None,
    disk: tuple[bytes, FileStat] | None,
    *,
    renaming: bool,
    now_ns: int,
) -> Action:
    """The action for a path whose live manifest entry is ``entry``, whose sync
    record is ``synced`` and whose file holds ``disk`` (None: no file). ``renaming``:
    the entry's file is still recorded at another path, saved there; ``now_ns``: the
    wall clock (``time.time_ns``), to tell a file emptied just now."""
    if disk is None:
        if entry is not None and synced is not None and synced.guid == entry.guid:
            return Action.DELETE
        if entry is not None and not renaming:
            return Action.WRITE
        if entry is None and synced is not None:
            return Action.FORGET
        return Action.NOTHING
    data, stat = disk
    if not data and _just_emptied(stat, synced, now_ns):
        return Action.WAIT
    if entry is None:
        return Action.CREATE if synced is None else Action.FOLLOW
    same_doc = synced is not None and synced.guid == entry.guid
    if synced is not None and same_doc and synced.holds(data):
        chmod = synced.stat is not None and stat.mode != synced.stat.mode
        if chmod and stat.executable != entry.exec:  # chmod here
            return Action.CHMOD
        return Action.WRITE
    return Action.SAVE if same_doc else Action.MEET


def _just_emptied(stat: FileStat, synced: Synced | None, now_ns: int) -> bool:
    """Whether a file found empty was synced with bytes and emptied less than
    ``TRUNCATION_HOLD_S`` ago."""
    if synced is None or synced.digest == EMPTY_DIGEST:
        return False
    return not now_ns - stat.mtime_ns >= TRUNCATION_HOLD_S * 1e9
