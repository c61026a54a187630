"""A sync record file reads back whole; a torn or oversized one reads as no record."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psync.mirror import records
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.records import Record, encode_record, read_record

RECORD = Record("notes/a.md", "f:" + "ab" * 16, b"\x01" * 32, FileStat(12, 34, 56, 0o100644),
                b"the merge base\n" * 10, b"v")  # fmt: skip


def test_a_record_reads_back_whole(tmp_path: Path) -> None:
    (tmp_path / "r").write_bytes(encode_record(RECORD))
    assert read_record(tmp_path / "r") == RECORD
    assert read_record(tmp_path / "missing") is None


def test_a_torn_record_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / "r").write_bytes(encode_record(RECORD)[:-3])
    assert read_record(tmp_path / "r") is None


def test_a_file_longer_than_a_record_can_be_reads_as_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode_record(RECORD)
    (tmp_path / "r").write_bytes(data)
    monkeypatch.setattr(records, "MAX_RECORD_BYTES", len(data) - 1)
    assert read_record(tmp_path / "r") is None
    monkeypatch.setattr(records, "MAX_RECORD_BYTES", len(data))
    assert read_record(tmp_path / "r") == RECORD
