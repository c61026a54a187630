"""A restore is a new edit: the diff from now back to a version, merged like any save.

This is the primitive ``p2psync restore`` is to use (docs/history.md): the mirror's
``text_update`` from the current state to a kept version's text.
"""

from __future__ import annotations

from typing import Any

import pycrdt

from p2psync.mirror.content import text_update
from p2psync.storage.timeline import Version
from p2psync.storage.versionstate import fold, text_of


def _edit(doc: pycrdt.Doc[Any], text: str) -> bytes:
    """Replace the doc's text the way a save does; return the update."""
    update, _ = text_update(doc.get_update(), text, doc.client_id)
    doc.apply_update(update)
    return update


def test_a_restore_keeps_a_concurrent_edit_made_elsewhere() -> None:
    a: pycrdt.Doc[Any] = pycrdt.Doc()
    updates = [_edit(a, "title\n\nfirst draft\n\nfooter\n")]
    version = Version(0.0, "A", "create", len(updates), 0, 0, 0)
    updates.append(_edit(a, "title\n\nsecond draft, worse\n\nfooter\n"))
    version = fold([version], updates)[0]  # compaction folded it: the state remains
    b: pycrdt.Doc[Any] = pycrdt.Doc()
    b.apply_update(a.get_update())

    old = text_of(version, [], "content")
    restore, _ = text_update(a.get_update(), old, a.client_id)
    a.apply_update(restore)
    concurrent = _edit(b, "title\n\nsecond draft, worse\n\nfooter by B\n")
    a.apply_update(concurrent)
    b.apply_update(restore)

    merged = "title\n\nfirst draft\n\nfooter by B\n"
    assert str(a.get("content", type=pycrdt.Text)) == merged
    assert str(b.get("content", type=pycrdt.Text)) == merged
