"""``doctor``'s check of one log: changes the CRDT engine would keep pending."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pycrdt

from p2psync.cli.doctor import check_log
from p2psync.storage import DocLog


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
