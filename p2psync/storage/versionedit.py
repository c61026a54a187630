"""The edit that brings a text doc back to one of its past versions, found from the
doc's own structure, not by diffing two texts (docs/history.md).

A version of a doc is a past state of the same doc, so what changed since is known
exactly: the doc at the version, given what the current doc gained since
(``DocReplica.diff`` of its state vector), reports that change as a Yjs delta on its
text (retain, insert, delete, in UTF-8 bytes), computed by Yrs. Inverted, that delta
is the way back: what was inserted since is deleted, and what was deleted since is
typed again where it was. The doc it is applied to is the version's doc once it has
caught up with the current one, so no second copy of the current doc is loaded, and
the edit is made by the fresh client the version's doc was given, like a save in an
editor: it merges with concurrent edits as any edit does, and touches only the
characters that differ (a text diff of two far-apart texts may give up and replace
whole blocks, and takes time growing with their distance).

``version_doc`` loads the version; ``edit_back`` returns the update, or None when
the delta is not one this inverts (an embed, several transactions) or the result
is not the version's text: the caller then diffs the texts instead. Pure functions
over pycrdt; no file is read or written here.
"""

from __future__ import annotations

from typing import Any

import pycrdt

from p2psync.storage.compaction import YDoc


def version_doc(state: bytes, client_id: int) -> YDoc:
    """A doc holding the version whose whole state is ``state``, whose own edits are
    made by ``client_id``."""
    doc: YDoc = pycrdt.Doc(client_id=client_id)
    doc.apply_update(state)
    return doc


def edit_back(doc: YDoc, gained: bytes, root: str) -> bytes | None:
    """The update that brings the current doc back to the text ``doc`` holds (a
    version's doc from ``version_doc``), ``gained`` being what the current doc holds
    past ``doc``'s state vector. ``doc`` is the current doc with the edit made, after."""
    text = doc.get(root, type=pycrdt.Text)
    wanted = str(text)
    before = wanted.encode()
    deltas: list[list[dict[str, Any]]] = []
    subscription = text.observe(lambda event: deltas.append(list(event.delta)))
    doc.apply_update(gained)
    text.unobserve(subscription)
    if len(deltas) > 1:
        return None
    state = doc.get_state()
    try:
        with doc.transaction():
            if deltas and not _invert(text, deltas[0], before):
                return None
    except UnicodeDecodeError:  # a delta cutting a character: not Yrs's
        return None
    if str(text) != wanted:
        return None
    update: bytes = doc.get_update(state)
    return update


def _invert(text: pycrdt.Text, delta: list[dict[str, Any]], before: bytes) -> bool:
    """Apply to ``text`` (the text after ``delta``) the inverse of ``delta``, which
    took the text ``before`` (UTF-8) to it. False if ``delta`` holds what this does
    not invert."""
    at = old = 0  # UTF-8 offsets: in ``text`` as edited so far, and in ``before``
    for step in delta:
        if "retain" in step and len(step) == 1:
            at, old = at + int(step["retain"]), old + int(step["retain"])
        elif "insert" in step and len(step) == 1 and isinstance(step["insert"], str):
            size = len(step["insert"].encode())
            del text[at : at + size]
        elif "delete" in step and len(step) == 1:
            size = int(step["delete"])
            text.insert(at, before[old : old + size].decode())
            at, old = at + size, old + size
        else:
            return False
    return True
