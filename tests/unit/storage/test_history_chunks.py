"""A chunked file's timeline (``DocHistory.note_chunks``): each version's text kept
apart chunk by chunk, unchanged chunks stored once and never read again, +N / -M
counted chunk by chunk, and the texts of dropped versions removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psync.errors import StorageError
from p2psync.storage.doclog import DocLog
from p2psync.storage.history import DocHistory, VersionNote
from p2psync.storage.retention import DAY, RetentionPolicy
from p2psync.storage.timeline import char_changes
from p2psync.storage.versiontexts import texts_dir

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _note(clock: Clock, device: str = "A", kind: str = "local save") -> VersionNote:
    return VersionNote(clock.now, device, kind, "")


def test_a_chunked_files_versions_keep_their_texts_apart(tmp_path: Path) -> None:
    path = tmp_path / "root.ylog"
    log = DocLog.open(path).log
    clock = Clock()
    history = DocHistory(path, "content", RetentionPolicy(max_age_days=10), clock=clock)
    one, two = "first chunk\n" * 50, "second chunk\n" * 50
    first = history.note_chunks(_note(clock), [("c1", one), ("c2", two)], log)
    assert first is not None
    assert (first.kind, first.size, first.added, first.removed) == (
        "create", len((one + two).encode()), len(one + two), 0)  # fmt: skip
    assert history.chunk_guids() == {"c1", "c2"}

    clock.now += 60  # chunk c2 edited; c1 untouched: not given, taken from version 1
    edited = two.replace("second chunk\n", "second chunk, edited\n", 1)
    second = history.note_chunks(_note(clock, "B", "remote change"), [("c1", None),
                                 ("c2", edited)], log)  # fmt: skip
    assert second is not None
    assert (second.number, second.kind, second.device) == (2, "remote change", "B")
    assert (second.added, second.removed) == char_changes(two, edited)
    assert history.text_at(1, log) == (first, one + two)
    assert history.text_at(2, log) == (second, one + edited)
    files = len(list(texts_dir(path).iterdir()))
    assert files == 5  # three chunk texts, two lists

    clock.now += 60  # nothing changed: no version for a save
    assert history.note_chunks(_note(clock), [("c1", None), ("c2", None)], log) is None
    with pytest.raises(StorageError):  # a chunk the newest version does not hold
        history.note_chunks(_note(clock), [("c3", None)], log)

    # Reopened: the texts come from their files; a rename names its old path.
    history.save()
    again = DocHistory(path, "content", RetentionPolicy(max_age_days=10), clock=clock)
    renamed = again.note_chunks(VersionNote(clock.now, "A", "rename", "", "old.log"),
                                [("c1", None), ("c2", None)], log)  # fmt: skip
    assert renamed is not None
    assert (renamed.old_path, renamed.added, renamed.removed) == ("old.log", 0, 0)
    assert again.text_at(3, log) == (renamed, one + edited)

    # Versions the policy drops take their texts with them.
    clock.now += 40 * DAY
    again.note_chunks(_note(clock), [("c1", "short\n")], log)
    again.save()
    assert [v.number for v in again.versions()] == [4]
    assert len(list(texts_dir(path).iterdir())) == 2
    log.close()


def test_a_chunked_files_coalesced_version_sums_its_changes(tmp_path: Path) -> None:
    """Devices editing a chunked file together: each change is counted chunk by chunk
    against the newest version, and the version it joins adds it up (B's insertion
    and A's deletion of it are +3 / -3, not the +0 / -0 across the version)."""
    path = tmp_path / "root.ylog"
    log = DocLog.open(path).log
    clock = Clock()
    history = DocHistory(path, "content", RetentionPolicy(max_age_days=10), clock=clock)
    one, two = "first chunk\n" * 50, "second chunk\n" * 50
    history.note_chunks(_note(clock), [("c1", one), ("c2", two)], log)
    clock.now += 60
    history.note_chunks(_note(clock), [("c1", one + "a"), ("c2", None)], log)
    for text in (two + "xyz", two):
        clock.now += 1
        device, kind = ("B", "remote change") if text != two else ("A", "local save")
        history.note_chunks(_note(clock, device, kind), [("c1", None), ("c2", text)], log)
    assert [(v.number, v.devices, v.added, v.removed) for v in history.versions()] == [
        (1, ("A",), len(one + two), 0),
        (2, ("A",), 1, 0),
        (3, ("B", "A"), 3, 3),
    ]
    assert history.text_at(3, log) == (history.versions()[2], one + "a" + two)
    log.close()
