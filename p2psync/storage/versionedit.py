"""The edit that brings a text doc back to one of its past versions, found from the
doc's own structure, not by diffing two texts (docs/history.md).

A version of a doc is a past state of the same doc, so what changed since is known
exactly: it is what the current doc gained past the version's state vector
(``DocReplica.diff``). Given to the version's doc in one transaction that an undo
manager (Yrs's ``UndoManager``) tracks, that change is then undone: what was inserted
since is deleted by its IDs, and what was deleted since is typed again next to the
items it sat between, as an editor's undo does. No position is looked up from the
start of the text and no text is compared, so the cost grows with what changed, not
with the length of the text. The doc this works on is the version's doc once it has
caught up with the current one, so no second copy of the current doc is loaded, and
the edit is made by the fresh client the version's doc was given, like a save in an
editor: it merges with concurrent edits as any edit does, and touches only the
characters that differ (a text diff of two far-apart texts may give up and replace
whole blocks, and takes time growing with their distance).

``edit_back`` returns the update, or None when the result is not the version's
text: the caller then diffs the texts instead. A pure function over pycrdt; no file
is read or written here.
"""

from __future__ import annotations

import pycrdt

from p2psync.storage.compaction import YDoc

GAINED = "p2psync.versionedit.gained"
"""The origin of the transaction that gives the version's doc what was made since:
the one transaction the undo manager of ``edit_back`` tracks."""


def edit_back(doc: YDoc, gained: bytes, root: str) -> bytes | None:
    """The update that brings the current doc back to the text ``doc`` holds (a
    version's doc, made by a fresh client: ``DocHistory.doc_at``), ``gained`` being
    what the current doc holds past ``doc``'s state vector. ``doc`` is the current doc
    with the edit made, after."""
    text = doc.get(root, type=pycrdt.Text)
    wanted = str(text)
    undo = pycrdt.UndoManager(scopes=[text], capture_timeout_millis=0)
    undo.include_origin(GAINED)
    with doc.transaction(origin=GAINED):
        doc.apply_update(gained)
    state = doc.get_state()
    if undo.can_undo():
        undo.undo()
    if str(text) != wanted:
        return None
    update: bytes = doc.get_update(state)
    return update
