"""``doctor``'s check of one log: changes the CRDT engine would keep pending."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from p2psync.cli.doctor import check_history, check_log, repair_history
from p2psync.storage import DocLog
from p2psync.storage.timeline import Version
from p2psync.storage.versionindex import encode_timeline, versions_path


def three_edits() -> list[bytes]:
    """Three updates of one client, each building on the one before."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    text.insert(0, "one\n")
    text.insert(4, "two\n")
    text.insert(8, "three\n")
    return updates


def log_of(path: Path, updates: list[bytes]) -> Path:
    opened = DocLog.open(path)
    opened.log.append(updates)
    opened.log.close()
    return path


def test_a_log_whose_updates_all_apply_is_ok(tmp_path: Path) -> None:
    report = check_log(log_of(tmp_path / "d.ylog", three_edits()))
    assert (report.state, report.records) == ("ok", 1)


def test_a_log_missing_an_update_others_build_on_is_reported_pending(tmp_path: Path) -> None:
    first, _, third = three_edits()
    report = check_log(log_of(tmp_path / "d.ylog", [first, third]))
    assert report.state == "pending"
    assert "1 client(s)" in report.reason


def test_updates_out_of_order_in_a_log_are_not_pending(tmp_path: Path) -> None:
    first, second, third = three_edits()
    report = check_log(log_of(tmp_path / "d.ylog", [first, third, second]))
    assert report.state == "ok"


def _timeline_beside(log: Path, data: bytes) -> Path:
    path = versions_path(log)
    path.write_bytes(data)
    return path


def _a_timeline() -> bytes:
    return encode_timeline([Version(1.0, "dev", "create", 1, 4, 4, 0, b"", 1)])


def test_a_log_without_a_history_file_has_no_history_report(tmp_path: Path) -> None:
    assert check_history(log_of(tmp_path / "d.ylog", three_edits())) is None


def test_a_healthy_history_file_is_ok_with_its_versions(tmp_path: Path) -> None:
    log = log_of(tmp_path / "d.ylog", three_edits())
    _timeline_beside(log, _a_timeline())
    report = check_history(log)
    assert report is not None
    assert (report.state, report.records) == ("ok", 1)
    _timeline_beside(log, b"")  # a first write a crash cut off: read as none
    assert check_history(log) == replace(report, bytes=0, records=0)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage"])
def test_a_damaged_history_file_is_corrupt_and_repair_moves_it_aside(
    tmp_path: Path, damage: str
) -> None:
    log = log_of(tmp_path / "d.ylog", three_edits())
    whole = _a_timeline()
    data = {"truncated": whole[:-5], "flipped": whole[:-3] + b"\xff" + whole[-2:],
            "garbage": b"garbage"}[damage]  # fmt: skip
    path = _timeline_beside(log, data)
    report = check_history(log)
    assert report is not None
    assert report.state == "corrupt"
    assert "the file's past versions cannot be read (its content is safe" in report.reason
    assert "--repair" in report.reason
    assert path.read_bytes() == data  # read only

    repaired = repair_history(report)
    assert repaired.repaired
    assert not path.exists()
    (kept,) = (tmp_path / ".quarantine").iterdir()
    assert kept.read_bytes() == data
    assert str(kept) in repaired.reason
    assert check_history(log) is None


def test_a_newer_history_file_is_unsupported_and_left(tmp_path: Path) -> None:
    log = log_of(tmp_path / "d.ylog", three_edits())
    whole = bytearray(_a_timeline())
    whole[9] = 9  # the format version, past what this p2psync reads
    path = _timeline_beside(log, bytes(whole))
    report = check_history(log)
    assert report is not None
    assert report.state == "unsupported"
    assert not repair_history(report).repaired
    assert path.read_bytes() == bytes(whole)
