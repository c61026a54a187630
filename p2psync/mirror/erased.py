"""What a doc's text lost since an older state of the same doc.

A save merged against an older base (``content.merge_save``, ``chunkfile``) passes it
to the diff (``textdiff.Erased``): a line the save changed in place that a peer deleted
meanwhile is replaced whole rather than edited by character, so the saved line does not
go with the deleted one's characters.
"""

from __future__ import annotations

from typing import Any, cast

import pycrdt

from p2psync.mirror.chunked import CONTENT

YDoc = pycrdt.Doc[Any]


def erased_since(base_state: bytes, live_state: bytes) -> list[tuple[int, int]]:
    """The ranges (code points, ascending) of the text at ``base_state`` that the doc
    at ``live_state``, a later state of the same doc, has deleted: the delta of applying
    the one onto the other, its UTF-8 byte offsets turned into code points."""
    scratch: YDoc = pycrdt.Doc()
    scratch.apply_update(base_state)
    text = scratch.get(CONTENT, type=pycrdt.Text)
    old = str(text).encode()
    deltas: list[list[dict[str, Any]]] = []
    # pycrdt declares TextEvent.delta in its __slots__ only, untyped.
    text.observe(lambda event: deltas.append(cast(Any, event).delta))
    scratch.apply_update(live_state)
    ranges: list[tuple[int, int]] = []
    at = point = 0  # the base text's byte offset reached, and its code point offset
    for op in deltas[0] if deltas else []:  # one update: one transaction, one event
        size = op.get("retain", op.get("delete", 0))
        end = point + len(old[at : at + size].decode())
        if "delete" in op:
            ranges.append((point, end))
        at, point = at + size, end
    return ranges
