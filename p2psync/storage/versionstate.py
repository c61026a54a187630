"""Rebuilding a version's text, and keeping it rebuildable across compaction.

A version whose updates are still separate records of the log is rebuilt by replaying
the first ``log_end`` updates. Compaction folds a prefix of the log into one snapshot,
which collects deleted text, so before it commits, ``fold`` gives every version inside
the prefix its full state and renumbers the others (docs/history.md). The caller saves
the folded timeline durably *before* committing the compaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pycrdt

from p2psync.storage.compaction import YDoc, apply_in_chunks, replay
from p2psync.storage.timeline import Version


def text_of(version: Version, updates: Sequence[bytes], root: str) -> str:
    """The text of the Y.Text ``root`` at ``version``; ``updates`` are the log's, in order.
    A deletion's text is empty: the file did not exist then (its doc kept the text)."""
    if version.kind == "delete":
        return ""
    doc = replay([version.state] if version.state else updates[: version.log_end])
    return str(doc.get(root, type=pycrdt.Text))


def fold(timeline: list[Version], prefix: Sequence[bytes]) -> list[Version]:
    """The timeline as it must be once the updates ``prefix`` become one snapshot update.

    Versions ending inside the prefix get their full state (if they have none yet);
    the others' ``log_end`` moves back by ``len(prefix) - 1``.
    """
    doc: YDoc = replay([])
    applied = 0
    folded: list[Version] = []
    for version in timeline:
        if version.log_end > len(prefix):
            folded.append(replace(version, log_end=version.log_end - len(prefix) + 1))
            continue
        state = version.state
        if not state and not version.text_key:  # a chunked file's text is kept apart
            apply_in_chunks(doc, prefix[applied : version.log_end])
            applied = max(applied, version.log_end)
            state = doc.get_update()
        folded.append(replace(version, log_end=1, state=state))
    return folded
