"""Empty logs a crash left behind, and their removal.

A new doc's log is created just before its first append (for a group of new files,
all their logs in one go, then one group commit), and its manifest entry is written
after that append. A kill in between leaves a log holding nothing, of a doc that no
manifest entry names: the file it was made for is taken in again as a new doc at the
next start, so the empty log only clutters the share and its count of docs. The
daemon removes such logs when it starts a share (``daemon/indexkeeper.py``);
``p2psync doctor`` reports them as *leftovers* (docs/storage.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from p2psync.errors import StorageError
from p2psync.mirror.chunked import CHUNK_GUID
from p2psync.mirror.manifest import MANIFEST_GUID, read_entries
from p2psync.storage import format as fmt
from p2psync.storage import read_state
from p2psync.storage.compaction import replay
from p2psync.storage.doclog import remove_empty_log
from p2psync.storage.layout import log_path

log = logging.getLogger(__name__)


def manifest_names(root: Path) -> set[str] | None:
    """The guids the manifest of the share at ``root`` names (its own included), or
    None if its manifest cannot be read: then no log can be told a leftover."""
    try:
        manifest = replay([read_state(log_path(root, MANIFEST_GUID))])
    except FileNotFoundError:
        return {MANIFEST_GUID}
    except (StorageError, OSError, ValueError):
        return None
    entries, _ = read_entries(manifest)
    return {MANIFEST_GUID, *entries}


def may_be_leftover(guid: str) -> bool:
    """Whether an empty log of doc ``guid`` can be a leftover: it is neither the
    manifest's nor a chunk's (chunks are named by their file's doc, not the manifest)."""
    return guid != MANIFEST_GUID and not CHUNK_GUID.fullmatch(guid)


def remove_leftovers(root: Path, sizes: Mapping[str, int]) -> list[str]:
    """Remove the leftover logs of the share at ``root``, given the size of each of
    its logs by guid, and return the guids whose logs were removed. The manifest is
    read only if some log is small enough to hold nothing. A leftover that cannot be
    removed is logged and kept. Blocking: run it in a worker thread."""
    empty = [g for g, size in sizes.items() if size <= fmt.FILE_HEADER_BYTES and may_be_leftover(g)]
    if not empty:
        return []
    names = manifest_names(root)
    if names is None:
        return []
    return [g for g in empty if g not in names and _removed(log_path(root, g))]


def _removed(path: Path) -> bool:
    try:
        return remove_empty_log(path)
    except StorageError as exc:
        log.warning("%s", exc)
        return False
