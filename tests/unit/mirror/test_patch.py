"""In-place patches of a chunked file's tail (``mirror.patch``) against real files:
the bytes match a full rewrite, the record is stored and dropped, a save is never
overwritten, and a record left behind is read for what it says."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from p2psync.mirror import patch
from p2psync.mirror.chunkfile import Part, Piece, piece_of
from p2psync.mirror.chunkwrite import write_plan
from p2psync.mirror.fileio import FileChangedError, FileStat, local_stat
from p2psync.mirror.patch import (
    BadRecordError,
    DigestMarks,
    PatchRecord,
    Recovery,
    TornFileError,
    load_records,
    pays,
    record_path,
    recovery,
    tail_of,
    write_chunked,
    write_record,
)
from p2psync.storage.layout import marker_dir

REL = "big.txt"


def folder(tmp_path: Path, name: str, data: bytes) -> Path:
    root = tmp_path / name
    marker_dir(root).mkdir(parents=True)
    (root / REL).write_bytes(data)
    return root


def chunk(rng: random.Random, n: int) -> bytes:
    return "".join(rng.choice("abcdefgh\n") for _ in range(rng.randint(1, 60))).encode() + (
        b"#%d" % n
    )


def pieces_of(chunks: list[bytes]) -> list[Piece]:
    return [piece_of(f"c{n}", data) for n, data in enumerate(chunks)]


def random_plan(rng: random.Random, old: list[Piece], serial: int) -> list[Part]:
    """A plan keeping a leading run of ``old`` in place, then a random tail: changed
    chunks, old chunks (moved), chunks dropped or added. And the bytes it means."""
    keep = rng.randint(len(old) // 2, len(old))
    parts: list[Part] = []
    start = 0
    for piece in old[:keep]:
        parts.append((piece, (start, start + piece.size)))
        start += piece.size
    offsets = {}
    at = 0
    for piece in old:
        offsets[piece.guid] = (at, at + piece.size)
        at += piece.size
    for index, piece in enumerate(old[keep:]):
        roll = rng.random()
        if roll < 0.3:
            data = chunk(rng, serial * 1000 + index)
            parts.append((piece_of(piece.guid, data), data))
        elif roll < 0.6:
            parts.append((piece, offsets[piece.guid]))
        elif roll < 0.8:
            data = chunk(rng, serial * 1000 + 500 + index)
            parts.append((piece_of(f"n{serial}-{index}", data), data))
    return parts


def expected_bytes(data: bytes, parts: list[Part]) -> bytes:
    return b"".join(s if isinstance(s, bytes) else data[s[0] : s[1]] for _, s in parts)


def stat_of(root: Path) -> FileStat:
    got = local_stat(root, REL)
    assert got is not None
    return got


def no_prefix_read(*args: object) -> None:
    raise AssertionError("the prefix was read")


@pytest.mark.parametrize("seed_value", range(8))
def test_a_patch_writes_what_a_full_rewrite_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed_value: int
) -> None:
    rng = random.Random(seed_value)
    chunks = [chunk(rng, n) for n in range(rng.randint(2, 30))]
    data = b"".join(chunks)
    patched, rewritten = folder(tmp_path, "a", data), folder(tmp_path, "b", data)
    pieces = pieces_of(chunks)
    marks = DigestMarks()
    in_place = 0
    for serial in range(12):
        if serial == 1:  # every write keeps the hash states a later patch starts from
            monkeypatch.setattr(patch, "_digest_prefix", no_prefix_read)
        parts = random_plan(rng, pieces, serial)
        want = expected_bytes(data, parts)
        ino = stat_of(patched).ino
        stat, digest = write_chunked(
            patched, REL, parts, guid="f:1", executable=False, expect=stat_of(patched), marks=marks
        )
        plain, plain_digest = write_plan(
            rewritten, REL, parts, executable=False, expect=stat_of(rewritten)
        )
        got = (patched / REL).read_bytes()
        assert got == want == (rewritten / REL).read_bytes()
        assert digest == plain_digest == hashlib.sha256(want).digest()
        assert stat == stat_of(patched)
        assert plain == stat_of(rewritten)
        offset, size = tail_of(parts)
        assert (stat.ino == ino) is pays(offset, size)
        in_place += pays(offset, size)
        assert not record_path(patched, REL).exists()
        data, pieces = want, [piece for piece, _ in parts]
    assert in_place > 0


def test_the_rule_patches_only_a_tail_of_at_most_half_the_file() -> None:
    assert pays(60, 100)
    assert pays(50, 100)
    assert not pays(49, 100)
    assert not pays(0, 0)  # nothing unchanged: a rewrite
    big = patch.PATCH_MAX_TAIL_BYTES
    assert not pays(10 * big, 11 * big + 1)
    assert pays(10 * big, 11 * big)


def plan_changing_last(data_chunks: list[bytes], new_last: bytes) -> list[Part]:
    pieces = pieces_of(data_chunks)
    parts: list[Part] = []
    start = 0
    for piece in pieces[:-1]:
        parts.append((piece, (start, start + piece.size)))
        start += piece.size
    parts.append((piece_of(pieces[-1].guid, new_last), new_last))
    return parts


CHUNKS = [b"chunk %d of the file\n" % n for n in range(10)]
NEW_LAST = b"the last chunk, edited by a peer\n"
SHORT_LAST = b"cut\n"


def test_a_save_before_the_patch_is_never_overwritten(tmp_path: Path) -> None:
    root = folder(tmp_path, "a", b"".join(CHUNKS))
    expect = stat_of(root)
    (root / REL).write_bytes(b"a save by another program\n" * 10)
    os.utime(root / REL, ns=(1, 1))
    with pytest.raises(FileChangedError):
        write_chunked(root, REL, plan_changing_last(CHUNKS, NEW_LAST), guid="f:1",
                      executable=False, expect=expect, marks=DigestMarks())  # fmt: skip
    assert (root / REL).read_bytes() == b"a save by another program\n" * 10
    assert load_records(root) == {}


def test_a_save_landing_after_the_record_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = folder(tmp_path, "a", b"".join(CHUNKS))
    saved = b"saved while the record was written\n"
    real_write_record = patch.write_record

    def write_then_save(folder: Path, record: PatchRecord) -> None:
        real_write_record(folder, record)
        assert load_records(folder) == {REL: record}
        tmp = folder / "saved.tmp"
        tmp.write_bytes(saved)
        tmp.replace(folder / REL)  # an editor's atomic save

    monkeypatch.setattr(patch, "write_record", write_then_save)
    with pytest.raises(FileChangedError):
        write_chunked(root, REL, plan_changing_last(CHUNKS, NEW_LAST), guid="f:1",
                      executable=False, expect=stat_of(root), marks=DigestMarks())  # fmt: skip
    assert (root / REL).read_bytes() == saved
    assert load_records(root) == {}


def test_a_programs_append_just_after_the_patch_is_not_recorded_as_the_daemons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program appends to the file the moment the patch is written, before the
    daemon takes the file's stat: the stat returned must not be the file's, or the
    append would read as the daemon's own write and be replaced by the next one."""
    root = folder(tmp_path, "a", b"".join(CHUNKS))
    real_overwrite = patch._overwrite

    def overwrite_then_append(*args: Any) -> None:
        real_overwrite(*args)
        with (root / REL).open("ab") as file:
            file.write(b"appended by a program\n")

    monkeypatch.setattr(patch, "_overwrite", overwrite_then_append)
    plan = plan_changing_last(CHUNKS, NEW_LAST)
    written, _ = write_chunked(root, REL, plan, guid="f:1", executable=False,
                               expect=stat_of(root), marks=DigestMarks())  # fmt: skip
    assert (root / REL).read_bytes().endswith(b"appended by a program\n")
    assert written != stat_of(root)


def test_a_failed_write_leaves_the_record_and_says_the_file_may_be_torn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = folder(tmp_path, "a", b"".join(CHUNKS))
    before = stat_of(root)

    def failing_truncate(fd: int, size: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "ftruncate", failing_truncate)
    with pytest.raises(TornFileError) as raised:
        write_chunked(root, REL, plan_changing_last(CHUNKS, SHORT_LAST), guid="f:1",
                      executable=False, expect=before, marks=DigestMarks())  # fmt: skip
    monkeypatch.undo()
    record = raised.value.record
    assert load_records(root) == {REL: record}
    assert (record.rel, record.guid, record.before) == (REL, "f:1", before)
    want = b"".join(CHUNKS[:-1]) + SHORT_LAST
    assert (record.offset, record.size) == (len(want) - len(SHORT_LAST), len(want))
    assert record.digest == hashlib.sha256(want).digest()
    assert recovery(root, record) is Recovery.TORN  # the old file's last bytes remain


def test_recovery_tells_a_finished_patch_a_torn_one_and_a_replaced_file(tmp_path: Path) -> None:
    old = b"".join(CHUNKS)
    new = b"".join(CHUNKS[:-1]) + NEW_LAST
    root = folder(tmp_path, "a", old)
    record = PatchRecord(REL, "f:1", stat_of(root), len(old) - len(CHUNKS[-1]), len(new),
                         hashlib.sha256(new).digest())  # fmt: skip
    assert recovery(root, record) is Recovery.TORN  # recorded, nothing written yet
    with (root / REL).open("r+b") as file:
        file.seek(record.offset)
        file.write(new[record.offset : record.offset + 5])
    assert recovery(root, record) is Recovery.TORN  # half written
    with (root / REL).open("r+b") as file:
        file.seek(record.offset)
        file.write(new[record.offset :])
    assert recovery(root, record) is Recovery.COMPLETE
    (root / "other").write_bytes(b"a save")
    (root / "other").replace(root / REL)
    assert recovery(root, record) is Recovery.REPLACED
    (root / REL).unlink()
    assert recovery(root, record) is Recovery.REPLACED


def test_a_record_round_trips_and_stays_where_its_path_names_it(tmp_path: Path) -> None:
    root = folder(tmp_path, "a", b"x")
    record = PatchRecord("dir/naïve 😀.txt", "f:abc", FileStat(10, 2, 3, 0o100644), 4, 9,
                         bytes(range(32)))  # fmt: skip
    assert PatchRecord.decode(record.encode()) == record
    write_record(root, record)
    assert load_records(root) == {record.rel: record}
    assert record_path(root, record.rel).parent == marker_dir(root) / patch.PATCH_DIR
    patch.remove_record(root, record.rel)
    assert load_records(root) == {}


def test_files_that_are_not_records_are_dropped_with_a_warning(tmp_path: Path) -> None:
    root = folder(tmp_path, "a", b"x")
    record = PatchRecord(REL, "f:1", FileStat(1, 2, 3, 4), 0, 1, bytes(32))
    write_record(root, record)
    place = marker_dir(root) / patch.PATCH_DIR
    (place / "left.tmp").write_bytes(b"{")
    (place / "junk.json").write_bytes(b"not json")
    (place / "moved.json").write_bytes(record.encode())  # a record under another name
    assert load_records(root) == {REL: record}
    assert sorted(p.name for p in place.iterdir()) == [record_path(root, REL).name]


@pytest.mark.parametrize("seed_value", range(4))
def test_a_mangled_record_is_refused_with_bad_record_error(seed_value: int) -> None:
    rng = random.Random(seed_value)
    good = PatchRecord(REL, "f:1", FileStat(1, 2, 3, 4), 0, 1, bytes(32)).encode()
    body = json.loads(good)
    bad_values: list[object] = [None, -1, True, "x", [], {}, 1.5, "zz"]
    for _ in range(300):
        choice = rng.random()
        if choice < 0.4:
            raw = bytearray(good)
            for _ in range(rng.randint(1, 4)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            mangled = bytes(raw)
        elif choice < 0.8:
            changed = dict(body)
            changed[rng.choice(list(body))] = rng.choice(bad_values)
            mangled = json.dumps(changed).encode()
        else:
            mangled = rng.randbytes(rng.randint(0, 64))
        try:
            decoded = PatchRecord.decode(mangled)
        except BadRecordError:
            continue
        assert decoded.encode() == PatchRecord.decode(decoded.encode()).encode()
    with pytest.raises(BadRecordError):
        PatchRecord.decode(b" " * (patch.MAX_RECORD_BYTES + 1))


def test_learned_hash_states_spare_reading_the_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"".join(CHUNKS)
    root = folder(tmp_path, "a", data)
    marks = DigestMarks()
    digest = marks.learn(REL, stat_of(root), data, [len(c) for c in CHUNKS])
    assert digest == hashlib.sha256(data).digest()
    monkeypatch.setattr(patch, "_digest_prefix", no_prefix_read)
    _, new_digest = write_chunked(root, REL, plan_changing_last(CHUNKS, NEW_LAST), guid="f:1",
                                  executable=False, expect=stat_of(root), marks=marks)  # fmt: skip
    assert new_digest == hashlib.sha256(b"".join(CHUNKS[:-1]) + NEW_LAST).digest()
    assert marks.learn(REL, stat_of(root), b"odd", [1]) == hashlib.sha256(b"odd").digest()
    assert marks.at(REL, stat_of(root), 0) is None  # sizes that do not add up: nothing kept
