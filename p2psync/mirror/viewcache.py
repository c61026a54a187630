"""The manifest's entries as last read, kept in one file for the next start.

A start reads the whole manifest before its first look at the folder: at 100,000
files, loading the doc (a 25 MB state) and reading every entry from it took about
7 s. A daemon that stops in order writes the entries its view holds, with the key of
the manifest's version they were read at (``records.version_key``: its state vector
and delete digest), to ``.p2psync/manifest.view``; the next start takes them from
there when the manifest is still at that version, without loading the doc. The
entries are what the doc holds at that version, so a cache of another version is
simply not used. Each entry is kept as its ``Y.Map`` holds it (``Entry.fields``) and
read back by ``manifest.parse_entry``, as from the doc.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import msgpack

from p2psync.mirror.manifest import Entry, parse_entry
from p2psync.mirror.records import framed, unframed, version_key
from p2psync.protocol.yjs import DocVersion
from p2psync.storage.fileops import write_file_atomically
from p2psync.storage.layout import marker_dir

log = logging.getLogger(__name__)

VIEW_FILE = "manifest.view"
MAGIC = b"P2PSMV\x00\x01"


def view_file(root: Path) -> Path:
    """Where the share at ``root`` keeps its manifest's entries between runs."""
    return marker_dir(root) / VIEW_FILE


def save_entries(path: Path, version: DocVersion, entries: Iterable[Entry]) -> None:
    """Write ``entries``, read at ``version``, atomically. Raises OSError."""
    rows = {entry.guid: entry.fields() for entry in entries}
    write_file_atomically(path, framed(MAGIC, [version_key(version), rows]), mode=0o600)


def load_entries(path: Path, version: DocVersion) -> dict[str, Entry] | None:
    """The entries kept at ``path`` if they were read at ``version``; None if there
    are none, they are of another version, or the file is damaged (logged)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring the unreadable manifest view %s: %s", path, exc.strerror)
        return None
    try:
        key, rows = unframed(MAGIC, data)
        if key != version_key(version):
            return None
        return {str(guid): parse_entry(str(guid), raw) for guid, raw in rows.items()}
    except (ValueError, TypeError, AttributeError, msgpack.UnpackException) as exc:
        log.warning("ignoring the damaged manifest view %s: %s", path, exc)
        return None
