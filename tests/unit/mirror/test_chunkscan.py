"""Reading a save of a chunked file against its layout, block by block."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from p2psync.errors import UnsafePathError
from p2psync.mirror.chunkfile import LARGE_TEXT_MAX_BYTES, match, piece_of
from p2psync.mirror.chunkscan import scan_save
from p2psync.mirror.fileio import NotAFileError

CHUNKS = [f"chunk {n} 中文 😀\n".encode() * (n + 1) for n in range(6)]
PIECES = [piece_of(f"c:{n}", data) for n, data in enumerate(CHUNKS)]
DATA = b"".join(CHUNKS)


def scanned(tmp_path: Path, data: bytes) -> tuple[int, int, bytes, bytes]:
    (tmp_path / "big.txt").write_bytes(data)
    scan = scan_save(tmp_path, "big.txt", PIECES, {})
    assert scan is not None
    assert scan.stat.size == len(data)
    return scan.lead, scan.trail, scan.middle, scan.digest


def test_an_unchanged_file_is_all_lead(tmp_path: Path) -> None:
    assert scanned(tmp_path, DATA) == (6, 0, b"", hashlib.sha256(DATA).digest())


def test_an_edit_in_one_chunk_is_the_only_bytes_read_into_memory(tmp_path: Path) -> None:
    edited = b"".join(CHUNKS[:3]) + b"EDIT" + b"".join(CHUNKS[3:])
    lead, trail, middle, digest = scanned(tmp_path, edited)
    assert (lead, trail, middle) == (3, 3, b"EDIT")
    assert digest == hashlib.sha256(edited).digest()


def test_an_append_and_a_cut_at_the_end(tmp_path: Path) -> None:
    assert scanned(tmp_path, DATA + b"tail")[:3] == (6, 0, b"tail")
    assert scanned(tmp_path, DATA[:-3])[:3] == (5, 0, CHUNKS[5][:-3])


def test_random_saves_agree_with_matching_the_whole_file(tmp_path: Path) -> None:
    rng = random.Random(5)
    for _ in range(200):
        data = bytearray(DATA)
        for _ in range(rng.randrange(1, 3)):
            at = rng.randrange(len(data) + 1)
            data[at : at + rng.choice([0, 1, 40])] = rng.choice([b"", b"x", "😀".encode()])
        lead, trail, middle, digest = scanned(tmp_path, bytes(data))
        found = match(PIECES, bytes(data))
        assert lead + trail <= len(PIECES)
        assert {p.guid for p in PIECES[:lead] + PIECES[len(PIECES) - trail :]} <= set(found)
        kept_bytes = b"".join(CHUNKS[:lead]) + middle + b"".join(CHUNKS[len(CHUNKS) - trail :])
        assert kept_bytes == bytes(data)
        assert digest == hashlib.sha256(data).digest()


def test_a_file_too_large_to_be_chunked_is_left_to_the_whole_read(tmp_path: Path) -> None:
    with (tmp_path / "huge.txt").open("wb") as file:
        file.truncate(LARGE_TEXT_MAX_BYTES + 1)  # sparse: nothing is written
    assert scan_save(tmp_path, "huge.txt", PIECES, {}) is None


def test_links_and_special_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes(DATA)
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    with pytest.raises(UnsafePathError, match="symlink"):
        scan_save(tmp_path, "link.txt", PIECES, {})
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(NotAFileError):
        scan_save(tmp_path, "fifo", PIECES, {})


def test_the_old_files_hash_states_give_the_digest_and_the_next_states(tmp_path: Path) -> None:
    states, hasher, at = {}, hashlib.sha256(), 0
    for chunk in CHUNKS:
        hasher.update(chunk)
        at += len(chunk)
        states[at] = hasher.copy()
    edited = b"".join(CHUNKS[:4]) + b"EDIT" + b"".join(CHUNKS[4:])
    (tmp_path / "big.txt").write_bytes(edited)
    for marks in (states, {0: hashlib.sha256()}, {}):
        scan = scan_save(tmp_path, "big.txt", PIECES, dict(marks))
        assert scan is not None
        assert scan.digest == hashlib.sha256(edited).digest()
        cut = sum(len(c) for c in CHUNKS[:4])
        assert scan.marks[cut].digest() == hashlib.sha256(edited[:cut]).digest()
        assert scan.marks[len(edited)].digest() == scan.digest
        assert all(at <= cut or at == len(edited) for at in scan.marks)
