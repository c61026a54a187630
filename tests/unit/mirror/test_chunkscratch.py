"""The scratch copies a chunked file's edit is made on (``mirror.chunkscratch``)."""

from __future__ import annotations

import gc
import weakref

import trio

from p2psync.mirror.chunkscratch import ScratchDocs, text_of
from tests.support.mirror import Store


def test_scratch_copies_are_stored_then_freed() -> None:
    """Once stored, the copies hold no subscription: an observed pycrdt Doc is kept
    alive through Rust by its own callback, and every edit of a large file leaked one
    copy per chunk it touched."""
    store = Store()
    scratch = ScratchDocs(store)
    doc = scratch("chunk")
    text_of(doc).insert(0, "hello\n")
    assert trio.run(scratch.store, "chunk") == ["chunk"]
    assert store.docs["chunk"].text() == "hello\n"
    copy = weakref.ref(doc)
    del doc, scratch
    gc.collect()
    assert copy() is None
