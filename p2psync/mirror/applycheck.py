"""Which files ``doc apply`` refuses, checked the same way by the CLI (no daemon
running) and by the daemon's ``doc.apply``, before anything is written.

A Yjs update is a change to a text file's doc (or a ``.ydoc`` app doc). Anything else
would be a doc the mirror cannot write or that means nothing to the file: a chunked
file has no one doc of its text (``chunkexport.refuse_apply``), a binary file syncs
whole and takes no text, and a folder, or a path below a file, can be no file at all
(a doc made for it would stay "not in sync" on every device).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from p2psync.errors import UsageError
from p2psync.mirror.chunkexport import refuse_apply
from p2psync.mirror.kinds import FileKind


def apply_refusal(root: Path, rel: str, kind: FileKind | None, name: str) -> UsageError | None:
    """Why ``doc apply`` refuses the file at share path ``rel`` of the share at
    ``root``, whose manifest entry is of ``kind`` (None: it has none yet), named
    ``name`` in the sentence; None if the file takes the update. Reads the folder."""
    if kind is FileKind.CHUNKED:
        return refuse_apply(name)
    if kind is FileKind.BINARY:
        return UsageError(f"{name} is a binary file: binary files take no text updates")
    if (root / rel).is_dir():
        return UsageError(f"{name} is a folder: a Yjs update applies to a file")
    for folder in PurePosixPath(rel).parents:
        place = root / folder
        if folder.parts and place.exists() and not place.is_dir():
            return UsageError(f"{name} cannot be a file: {folder} is a file, not a folder")
    return None
