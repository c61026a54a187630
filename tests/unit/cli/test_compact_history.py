"""``p2psync compact`` without a daemon keeps the file history's versions rebuildable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pycrdt

from p2psync.cli.compact import compact_log
from p2psync.storage import format as fmt
from p2psync.storage.doclog import DocLog
from p2psync.storage.history import DocHistory
from p2psync.storage.retention import RetentionPolicy
from p2psync.storage.timeline import Version
from p2psync.storage.versionindex import save_timeline, versions_path


def _edit(doc: pycrdt.Doc[Any], text: str) -> bytes:
    before = doc.get_state()
    content = doc.get("content", type=pycrdt.Text)
    with doc.transaction():
        del content[:]
        content += text
    return doc.get_update(before)


def test_offline_compaction_keeps_every_kept_version(tmp_path: Path) -> None:
    path = tmp_path / "doc.ylog"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    with DocLog.open(path).log as log:
        log.append([_edit(doc, "first")])
        log.append([_edit(doc, "second")])
        log.append([_edit(doc, "third")])
    now = 1_800_000_000.0
    save_timeline(versions_path(path), [
        Version(now - 30, "A", "create", 1, 5, 5, 0, number=1),
        Version(now - 20, "A", "local save", 2, 6, 6, 5, number=2),
    ])  # fmt: skip

    compact_log(path, RetentionPolicy())

    records = fmt.scan_log(path.read_bytes()).records
    assert [r.type for r in records] == [fmt.RecordType.SNAPSHOT]
    history = DocHistory(path, "content", RetentionPolicy(), clock=lambda: now)
    with DocLog.open(path, create=False).log as log:
        texts = [history.text_at(n, log) for n in (1, 2)]
    assert [found[1] if found else None for found in texts] == ["first", "second"]
