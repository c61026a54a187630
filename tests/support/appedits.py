"""Random edits of a doc replica (``DocReplica``) as another app would make them, and
what the doc holds, to compare replicas: for the randomized replica tests."""

from __future__ import annotations

import random
from typing import Any

import pycrdt

from p2psync.replica.doc import DocReplica


def byte_offset(text: str, chars: int) -> int:
    """pycrdt Text indices are UTF-8 byte offsets."""
    return len(text[:chars].encode())


def edit(doc: DocReplica, rng: random.Random) -> bytes:
    """A random local edit of ``doc`` as another app would make it: a Yjs update."""
    app: pycrdt.Doc[Any] = pycrdt.Doc(client_id=rng.randrange(1, 2**32))
    app.apply_update(doc.full_state())
    before = app.get_state()
    text = app.get("content", type=pycrdt.Text)
    meta = app.get("meta", type=pycrdt.Map)
    items = app.get("items", type=pycrdt.Array)
    with app.transaction():
        kind = rng.randrange(6)
        current = str(text)
        if kind == 0 and len(current) > 3:
            start = rng.randrange(len(current) - 2)
            end = start + rng.randrange(1, 3)
            del text[byte_offset(current, start) : byte_offset(current, end)]
        elif kind == 1:
            meta[rng.choice("abcde")] = rng.randrange(1000)
        elif kind == 2 and len(meta):
            del meta[rng.choice(list(meta.keys()))]
        elif kind == 3:
            items.append(rng.randrange(100))
        elif kind == 4 and len(items):
            del items[rng.randrange(len(items))]
        else:
            at = byte_offset(current, rng.randrange(len(current) + 1))
            text.insert(at, rng.choice(["x", "yz", "é", "字", "🙂"]))
    return app.get_update(before)


def content(doc: DocReplica) -> tuple[str, dict[str, Any], list[Any]]:
    """The text ``content``, the map ``meta`` and the array ``items`` of ``doc``."""
    copy: pycrdt.Doc[Any] = pycrdt.Doc()
    copy.apply_update(doc.full_state())
    return (
        str(copy.get("content", type=pycrdt.Text)),
        copy.get("meta", type=pycrdt.Map).to_py() or {},
        copy.get("items", type=pycrdt.Array).to_py() or [],
    )
