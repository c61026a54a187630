"""An app doc (``board.ydoc``) on real daemons: the file another program writes
(``board``), its map ``cards`` read back with pycrdt (``cards_in``), and two linked
daemons that hold it (``start``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pycrdt

from tests.support.daemons import Device, link, wait_for

YDoc = pycrdt.Doc[Any]


def board(client_id: int, **cells: Any) -> bytes:
    """The file another program writes: a doc's whole state holding ``cells``."""
    doc: YDoc = pycrdt.Doc(client_id=client_id)
    for key, value in cells.items():
        doc.get("cards", type=pycrdt.Map)[key] = value
    return doc.get_update()


def cards_in(path: Path) -> dict[str, Any] | None:
    """The map ``cards`` of the doc whose state the file at ``path`` is, read with
    pycrdt (None: no file, or not a doc yet)."""
    try:
        doc: YDoc = pycrdt.Doc()
        doc.apply_update(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return dict(doc.get("cards", type=pycrdt.Map).to_py() or {})


def start(alice: Device, bob: Device, **cells: Any) -> None:
    """Both daemons running and linked, ``board.ydoc`` made on alice holding ``cells``
    and synced to bob."""
    (alice.folder / "board.ydoc").write_bytes(board(11, **cells))
    for device in (alice, bob):
        device.start()
    link([alice, bob])
    wait_for(lambda: cards_in(bob.folder / "board.ydoc") == cells, "board.ydoc at bob")
