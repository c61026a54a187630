"""``classify``: the one decision ``Mirror.reconcile`` makes for a path (mirror/classify.py).

Each row is what the manifest names at the path, what the ledger recorded, what the
disk holds, and the action; the engine's tests cover carrying the actions out."""

from __future__ import annotations

import stat as stat_mode

import pytest

from p2psync.mirror.classify import TRUNCATION_HOLD_S, Action, classify
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind, file_digest
from p2psync.mirror.manifest import Entry
from p2psync.mirror.records import Synced

NOW_NS = 1_700_000_000 * 10**9
HOLD_NS = int(TRUNCATION_HOLD_S * 1e9)
PLAIN = stat_mode.S_IFREG | 0o644
EXEC = stat_mode.S_IFREG | 0o755

ENTRY = Entry("f:a", "a.txt", FileKind.TEXT, Timestamp(1, 0, b"d"))
EXEC_ENTRY = Entry("f:a", "a.txt", FileKind.TEXT, Timestamp(1, 0, b"d"), exec=True)
OTHER = Entry("f:b", "a.txt", FileKind.TEXT, Timestamp(2, 0, b"d"))

OLD = FileStat(5, NOW_NS - 10 * HOLD_NS, 7, PLAIN)
"""The stat the file was synced at."""
OLD_EXEC = OLD._replace(mode=EXEC)
TOUCHED = OLD._replace(mtime_ns=NOW_NS - 5 * HOLD_NS)
"""Another stat, changed long enough ago."""
JUST = OLD._replace(size=0, mtime_ns=NOW_NS - HOLD_NS // 2)
"""Emptied just now."""
SETTLED = OLD._replace(size=0, mtime_ns=NOW_NS - 2 * HOLD_NS)
"""Emptied, and held still since."""

SYNCED = Synced("f:a", file_digest(b"hello"), OLD)
SYNCED_EMPTY = Synced("f:a", file_digest(b""), OLD)
SYNCED_NO_STAT = Synced("f:a", file_digest(b"hello"), None)
SYNCED_OTHER = Synced("f:b", file_digest(b"hello"), OLD)

CASES = [
    # no file
    ("deleted here", ENTRY, SYNCED, None, False, Action.DELETE),
    ("deleted here, renaming elsewhere", ENTRY, SYNCED, None, True, Action.DELETE),
    ("a doc with no file yet", ENTRY, None, None, False, Action.WRITE),
    ("a doc with no file yet, renaming", ENTRY, None, None, True, Action.NOTHING),
    ("recorded with another doc", OTHER, SYNCED, None, False, Action.WRITE),
    ("recorded with another doc, renaming", OTHER, SYNCED, None, True, Action.NOTHING),
    ("a record and no entry", None, SYNCED, None, False, Action.FORGET),
    ("nothing at all", None, None, None, False, Action.NOTHING),
    # a file no entry names
    ("a new file", None, None, (b"hello", OLD), False, Action.CREATE),
    ("saved while a peer renamed it?", None, SYNCED, (b"hello", TOUCHED), False, Action.FOLLOW),
    ("a new empty file", None, None, (b"", JUST), False, Action.CREATE),
    ("a synced file emptied just now, no entry", None, SYNCED, (b"", JUST), False, Action.WAIT),
    # the file as last synced
    ("as synced (stat)", ENTRY, SYNCED, (b"hello", OLD), False, Action.WRITE),
    ("as synced (digest)", ENTRY, SYNCED, (b"hello", TOUCHED), False, Action.WRITE),
    ("as synced, no stat recorded", ENTRY, SYNCED_NO_STAT, (b"hello", OLD), False, Action.WRITE),
    ("made executable here", ENTRY, SYNCED, (b"hello", OLD_EXEC), False, Action.CHMOD),
    (
        "made executable, entry already is",
        EXEC_ENTRY,
        SYNCED,
        (b"hello", OLD_EXEC),
        False,
        Action.WRITE,
    ),
    (
        "mode changed, no stat recorded",
        ENTRY,
        SYNCED_NO_STAT,
        (b"hello", OLD_EXEC),
        False,
        Action.WRITE,
    ),
    # saves
    ("saved here", ENTRY, SYNCED, (b"hello, world", TOUCHED), False, Action.SAVE),
    ("saved here, renaming", ENTRY, SYNCED, (b"hello, world", TOUCHED), True, Action.SAVE),
    # the same size, inode and mtime: saved within the filesystem clock's tick of the
    # write recorded (the bytes say so; the stat cannot)
    ("saved within the recorded write's tick", ENTRY, SYNCED, (b"jello", OLD), False, Action.SAVE),
    ("never synced with this doc", ENTRY, None, (b"hello", OLD), False, Action.MEET),
    ("synced with another doc", ENTRY, SYNCED_OTHER, (b"hello", OLD), False, Action.MEET),
    # emptied files
    ("emptied just now", ENTRY, SYNCED, (b"", JUST), False, Action.WAIT),
    ("emptied and held still", ENTRY, SYNCED, (b"", SETTLED), False, Action.SAVE),
    ("synced empty, still empty", ENTRY, SYNCED_EMPTY, (b"", JUST), False, Action.WRITE),
    ("empty, never synced", ENTRY, None, (b"", JUST), False, Action.MEET),
    ("emptied just now, other doc", ENTRY, SYNCED_OTHER, (b"", JUST), False, Action.WAIT),
]


@pytest.mark.parametrize(
    ("entry", "synced", "disk", "renaming", "action"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_classify(
    entry: Entry | None,
    synced: Synced | None,
    disk: tuple[bytes, FileStat] | None,
    renaming: bool,
    action: Action,
) -> None:
    assert classify(entry, synced, disk, renaming=renaming, now_ns=NOW_NS) is action


def test_a_file_emptied_exactly_the_hold_ago_is_read() -> None:
    edge = OLD._replace(size=0, mtime_ns=NOW_NS - HOLD_NS)
    assert classify(ENTRY, SYNCED, (b"", edge), renaming=False, now_ns=NOW_NS) is Action.SAVE
    inside = edge._replace(mtime_ns=edge.mtime_ns + 1)
    assert classify(ENTRY, SYNCED, (b"", inside), renaming=False, now_ns=NOW_NS) is Action.WAIT
