"""The soak's own actions, without daemons: an API append must be one a program
could make (docs/soak.md), or the soak counts as lost a token no daemon could show."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pycrdt

from p2psync.mirror.chunked import CONTENT, chunk_order, convert
from p2psync.mirror.chunkexport import chunked_export
from p2psync.mirror.engine import wall_ms
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID, Entry, put_entry
from p2psync.storage import append_update, read_state
from p2psync.storage.layout import log_path, marker_dir
from tests.soak.actions import Place, api_append
from tests.soak.model import Model

YDoc = pycrdt.Doc[Any]
ROOT = "f:" + "5a" * 16
TEXT = "".join(f"line {n}\n" for n in range(20))


def converted_share(folder: Path) -> YDoc:
    """A share holding ``big.txt``, a one-doc text file converted in place: its root
    is its only chunk."""
    (marker_dir(folder) / "docs").mkdir(parents=True)
    root: YDoc = pycrdt.Doc()
    root.get(CONTENT, type=pycrdt.Text).insert(0, TEXT)
    convert(root, ROOT)
    assert chunk_order(root, ROOT) == [ROOT]
    append_update(log_path(folder, ROOT), root.get_update())
    manifest: YDoc = pycrdt.Doc()
    created = HybridClock(b"device", wall_ms).tick()
    put_entry(manifest, Entry(ROOT, "big.txt", FileKind.CHUNKED, created))
    append_update(log_path(folder, MANIFEST_GUID), manifest.get_update())
    return root


def test_an_append_to_a_converted_roots_own_text_is_made_on_its_own_state(
    tmp_path: Path,
) -> None:
    """``doc export`` of a chunked file's root is its whole text in a fresh doc
    (``mirror.chunkexport``), not the root's state: an update made on it anchors on
    that fresh client, and the root's log keeps it pending for ever."""
    root = converted_share(tmp_path)
    place = Place("a", tmp_path, lambda guid: chunked_export(root, guid, lambda _: TEXT))
    model = Model(seed=1)
    for seed in range(8):  # both sources (export, log) are drawn
        api_append(model, place, "big.txt", random.Random(seed))
    assert model.counts["append to a chunk"] == 8
    doc: YDoc = pycrdt.Doc()
    doc.apply_update(read_state(log_path(tmp_path, ROOT)))
    text = str(doc.get(CONTENT, type=pycrdt.Text))
    assert all(token in text for token in model.tokens), text
