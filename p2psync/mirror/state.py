"""What the mirror last synced per path, kept in ``.p2psync/mirror.json``.

After a restart it tells a file saved while the daemon was down (its digest
differs: read as a local edit) from a file a remote change had not been written to
yet (same digest: the doc is written to it). The doc state a concurrent save is
merged against is kept in memory only; after a restart the doc as loaded is the base.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import NamedTuple

from p2psync.mirror.fileio import FileStat
from p2psync.protocol.yjs import DocVersion
from p2psync.storage.layout import marker_dir

log = logging.getLogger(__name__)

STATE_FILE = "mirror.json"
STATE_VERSION = 1


class Synced(NamedTuple):
    """A path as last synced: its doc, the digest of the bytes, the file's stat then
    (None after a restart) and the doc's version and state then (the merge base)."""

    guid: str
    digest: bytes
    stat: FileStat | None
    base_version: DocVersion | None = None
    base_state: bytes = b""


def save_state(root: Path, synced: dict[str, Synced]) -> None:
    """Write the state file atomically (not fsynced: losing it only makes the next
    start compare files with docs by content)."""
    body = {
        "version": STATE_VERSION,
        "files": {rel: [s.guid, s.digest.hex()] for rel, s in synced.items()},
    }
    path = marker_dir(root) / STATE_FILE
    tmp = path.with_name(STATE_FILE + ".tmp")
    try:
        tmp.write_text(json.dumps(body, separators=(",", ":")), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot save the mirror state of %s: %s", root, exc)


def load_state(root: Path) -> dict[str, Synced]:
    """The saved state, empty if there is none or it cannot be read (then logged)."""
    path = marker_dir(root) / STATE_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        files = body["files"] if body.get("version") == STATE_VERSION else {}
        return {
            str(rel): Synced(str(guid), bytes.fromhex(digest), None)
            for rel, (guid, digest) in files.items()
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring the unreadable mirror state %s: %s", path, exc)
        return {}
