"""Real Yjs updates of a text doc, made with pycrdt (``text_updates``), and the text a
doc's full state holds (``text_of``): for tests of the logs, the replicas and the
protocol."""

from __future__ import annotations

import pycrdt


def text_updates(count: int, *, client_id: int = 1, text: str = "edit ") -> tuple[list[bytes], str]:
    """Return ``count`` real Yjs v1 updates (one insert each) and the text they build."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=client_id)
    content = doc.get("content", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(count):
        content.insert(len(content), f"{text}{i} ")
    return updates, str(content)


def text_of(update: bytes) -> str:
    """The ``content`` text of the doc that ``update`` (a full state) describes."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.apply_update(update)
    return str(doc.get("content", type=pycrdt.Text))
