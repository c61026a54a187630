"""DocLog: recovery on open, appends, other processes' appends, compaction commits."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from p2psync.errors import CorruptLogError, LogWriteError, StorageError, UnsupportedLogError
from p2psync.storage import (
    DocLog,
    LogStats,
    append_update,
    read_state,
    read_updates,
    should_compact,
)
from p2psync.storage import format as fmt
from p2psync.storage.compaction import build_snapshot
from p2psync.storage.doclog import remove_empty_log
from p2psync.storage.fileops import FileOps
from tests.support.updates import text_of


def test_new_log_is_created_with_a_header(tmp_path: Path) -> None:
    opened = DocLog.open(tmp_path / "d.log")
    opened.log.close()
    assert opened.records == []
    assert opened.recovery is None
    assert (tmp_path / "d.log").read_bytes() == fmt.encode_header()


def test_missing_log_without_create_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        DocLog.open(tmp_path / "d.log", create=False)


def test_appends_are_replayed_in_order(tmp_path: Path, updates: tuple[list[bytes], str]) -> None:
    ups, text = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append(ups[:1])
        doclog.append(ups[1:])
    reopened = DocLog.open(path)
    reopened.log.close()
    assert reopened.updates == ups
    assert text_of(read_state(path)) == text


def test_torn_tail_is_cut_and_reported(tmp_path: Path, updates: tuple[list[bytes], str]) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append(ups[:5])
        good_size = doclog.end
        doclog.append(ups[5:])
    with path.open("r+b") as f:
        f.truncate(good_size + 7)
    reopened = DocLog.open(path)
    reopened.log.close()
    assert reopened.updates == ups[:5]
    assert reopened.recovery is not None
    assert reopened.recovery.torn_bytes == 7
    assert path.stat().st_size == good_size


def test_corrupt_middle_record_is_quarantined_and_prefix_kept(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append(ups[:3])
        bad_offset = doclog.end
        doclog.append(ups[3:6])
        doclog.append(ups[6:])
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[bad_offset + 20] ^= 0xFF
    path.write_bytes(bytes(damaged))

    reopened = DocLog.open(path)
    reopened.log.close()

    assert reopened.updates == ups[:3]
    recovery = reopened.recovery
    assert recovery is not None
    assert recovery.corruption is not None
    assert recovery.corruption.offset == bad_offset
    assert str(bad_offset) in str(recovery.corruption)
    assert str(path) in str(recovery.corruption)
    assert recovery.quarantined_to is not None
    assert recovery.quarantined_to.read_bytes() == bytes(damaged)  # never deleted
    assert path.read_bytes() == original[:bad_offset]


def test_bad_magic_is_quarantined_and_log_restarts_empty(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    path.write_bytes(b"this is not a p2psync log at all")
    opened = DocLog.open(path)
    opened.log.close()
    assert opened.records == []
    assert opened.recovery is not None
    assert opened.recovery.quarantined_to is not None
    assert opened.recovery.quarantined_to.read_bytes() == b"this is not a p2psync log at all"
    assert path.read_bytes() == fmt.encode_header()


def test_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    data = fmt.encode_header(version=99) + b"future records"
    path.write_bytes(data)
    with pytest.raises(UnsupportedLogError, match="version 99"):
        DocLog.open(path)
    assert path.read_bytes() == data
    assert not (tmp_path / ".quarantine").exists()


def test_other_process_appends_are_read_once_and_ours_never(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append([ups[0]])
        append_update(path, ups[1])
        doclog.append([ups[2]])  # discovers ups[1] while appending
        append_update(path, ups[3])
        assert doclog.read_new() == [ups[1], ups[3]]
        assert doclog.read_new() == []
    assert read_updates(path) == ups[:4]


def test_all_ours_tells_our_own_appends_from_another_process_s(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    """What tells the log watcher's echo of our own writes from another program's."""
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        assert doclog.all_ours()  # just its header
        doclog.append([ups[0]])
        assert doclog.all_ours()
        append_update(path, ups[1])
        assert not doclog.all_ours()  # appended to, not read yet
        doclog.append([ups[2]])  # reads it while appending: held unseen
        assert not doclog.all_ours()
        assert doclog.read_new() == [ups[1]]
        assert doclog.all_ours()
        other = tmp_path / "other.log"
        with DocLog.open(other).log as writer:
            writer.append(ups[:3])
        other.replace(path)  # the same bytes, another file
        assert not doclog.all_ours()
        path.unlink()
        assert not doclog.all_ours()
    assert not doclog.all_ours()  # closed


def test_torn_tail_left_by_a_crashed_appender_is_cut_before_our_append(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append([ups[0]])
        with path.open("ab") as f:
            f.write(fmt.encode_updates([ups[1]])[:-3])  # a writer died mid-write
        assert doclog.read_new() == []  # incomplete: not yet, and not an error
        doclog.append([ups[2]])
    assert read_updates(path) == [ups[0], ups[2]]


def test_corruption_appended_by_another_process_is_reported(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append([ups[0]])
        end = doclog.end
        record = bytearray(fmt.encode_updates([ups[1]]))
        record[-1] ^= 1
        with path.open("ab") as f:
            f.write(bytes(record))
        with pytest.raises(CorruptLogError) as info:
            doclog.read_new()
        assert info.value.offset == end
    with pytest.raises(CorruptLogError):
        read_updates(path)


def test_a_replaced_log_is_followed_and_reread(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append(ups[:2])
        other = tmp_path / "other.log"
        with DocLog.open(other).log as writer:
            writer.append(ups[:4])
        other.replace(path)  # another tool moved a new version onto the log
        assert doclog.read_new() == ups[:4]
        doclog.append([ups[4]])
    assert read_updates(path) == ups[:5]


def test_a_log_whose_folder_vanished_fails_with_a_clear_error(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    folder = tmp_path / "docs"
    folder.mkdir()
    path = folder / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append(ups[:2])
        path.unlink()
        folder.rmdir()  # the share's folder was deleted or unmounted under the daemon
        for _ in range(2):  # and stays failed, with the same sentence, not EBADF
            with pytest.raises(LogWriteError, match="vanished"):
                doclog.append([ups[2]])


def test_a_deleted_log_is_created_again_whole_and_says_it_was_replaced(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append(ups[:2])
        assert not doclog.take_replaced()
        path.unlink()
        assert doclog.read_new() == []  # nothing new: the file is gone
        assert doclog.take_replaced()
        assert not doclog.take_replaced()  # said once
        doclog.append([ups[2]])  # the new file has a header: appends go on
        doclog.append([ups[3]])
        assert doclog.read_new() == []
    assert read_updates(path) == ups[2:4]


def test_an_empty_log_is_removed_and_a_writer_holding_it_open_stores_in_a_new_one(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as writer:  # opened (created) before the removal
        assert remove_empty_log(path)
        assert not path.exists()
        writer.append([ups[0]])  # under its lock it finds the path gone: a new file
    assert read_updates(path) == [ups[0]]
    assert not remove_empty_log(path)  # it holds a record now: kept
    assert read_updates(path) == [ups[0]]
    assert not remove_empty_log(tmp_path / "missing.log")
    torn = tmp_path / "torn.log"
    torn.write_bytes(fmt.encode_header()[:3])  # a crash inside the header
    assert remove_empty_log(torn)
    assert not torn.exists()


def test_compaction_commit_keeps_records_appended_after_the_prefix(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, text = updates
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        doclog.append(ups[:10])
        prefix_end = doclog.end
        snapshot = build_snapshot(path, prefix_end)
        doclog.append(ups[10:20])
        append_update(path, ups[20])
        doclog.commit_compaction(prefix_end, snapshot)
        assert doclog.read_new() == [ups[20]]
        doclog.append(ups[21:])
        assert doclog.stats.snapshot_bytes == len(snapshot)
    records = DocLog.open(path).records
    assert [r.type for r in records[:1]] == [fmt.RecordType.SNAPSHOT]
    assert len(records) == 4
    assert text_of(read_state(path)) == text


def test_compaction_prefix_must_be_inside_the_log(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    with DocLog.open(tmp_path / "d.log").log as doclog:
        doclog.append(ups)
        with pytest.raises(StorageError, match="out of range"):
            doclog.commit_compaction(doclog.end + 1, b"")


def test_compaction_policy() -> None:
    assert not should_compact(LogStats(10, 10_000, 0))
    assert should_compact(LogStats(501, 10_000, 0))
    assert should_compact(LogStats(10, 200_000, 50_000))
    assert not should_compact(LogStats(10, 90_000, 50_000))
    assert not should_compact(LogStats(1, 10_000_000, 100))  # a lone snapshot is compact


class _RecordingOps(FileOps):
    """Real file operations that note each sync (and the write before it) in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def write_all(self, fd: int, data: bytes) -> None:
        self.calls.append("write")
        super().write_all(fd, data)

    def fdatasync(self, fd: int) -> None:
        self.calls.append("fdatasync")
        super().fdatasync(fd)

    def fsync_dir(self, path: Path) -> None:
        self.calls.append(f"fsync_dir {path.name}")
        super().fsync_dir(path)


def test_a_new_log_is_synced_with_its_folder_by_its_first_append_only(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    ops = _RecordingOps()
    path = tmp_path / "docs" / "d.log"
    path.parent.mkdir()
    with DocLog.open(path, ops=ops).log as doclog:
        assert ops.calls == ["write"]  # the header, and no fsync yet
        doclog.append(ups[:2])
        # the first append returns once the records and the file's name are durable
        assert ops.calls == ["write", "write", "fdatasync", "fsync_dir docs"]
        doclog.append(ups[2:4])
        assert ops.calls[4:] == ["write", "fdatasync"]
    assert read_updates(path) == ups[:4]
    ops.calls.clear()
    with DocLog.open(path, ops=ops).log as doclog:  # an existing log: nothing to sync
        doclog.append([ups[4]])
    assert ops.calls == ["write", "fdatasync"]


def test_an_empty_log_left_by_a_crash_is_synced_with_its_folder_again(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates
    path = tmp_path / "d.log"
    path.write_bytes(fmt.encode_header()[:5])  # a crash while the header was written
    ops = _RecordingOps()
    opened = DocLog.open(path, ops=ops)
    with opened.log as doclog:
        doclog.append([ups[0]])
    assert opened.recovery is not None
    assert opened.recovery.torn_bytes == 5
    assert ops.calls == ["write", "write", "fdatasync", f"fsync_dir {tmp_path.name}"]
    assert read_updates(path) == [ups[0]]


def test_a_failed_folder_sync_stores_nothing_and_the_next_append_syncs_it(
    tmp_path: Path, updates: tuple[list[bytes], str]
) -> None:
    ups, _ = updates

    class FailingDirSync(_RecordingOps):
        def fsync_dir(self, path: Path) -> None:
            super().fsync_dir(path)
            if self.calls.count(f"fsync_dir {path.name}") == 1:
                raise OSError(errno.EIO, "Input/output error")

    ops = FailingDirSync()
    path = tmp_path / "d.log"
    with DocLog.open(path, ops=ops).log as doclog:
        with pytest.raises(LogWriteError, match="Input/output error"):
            doclog.append([ups[0]])
        assert read_updates(path) == []  # cut back: not acknowledged, not kept
        doclog.append([ups[1]])
    assert ops.calls.count(f"fsync_dir {tmp_path.name}") == 2
    assert read_updates(path) == [ups[1]]
