"""Updates that crashed the CRDT engine, kept aside for diagnosis, never applied.

When pycrdt panics on an update from a peer, the live doc is rebuilt from its log
(which holds only updates that integrated cleanly) and the offending bytes are written
to ``.p2psync/quarantine/<time>-<log name>``, in the log format (a header and one
record), with a ``.reason`` file beside it saying where they came from. Nothing reads
that directory back: it is for people and bug reports.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from p2psync.storage import format as fmt
from p2psync.storage.fileops import write_file_atomically
from p2psync.storage.layout import log_path, marker_dir

QUARANTINE_DIR_NAME = "quarantine"
MAX_QUARANTINE_FILES = 100
"""Kept at most; a peer that keeps sending crashing updates cannot fill the disk."""


def quarantine_dir(share_root: Path) -> Path:
    """Where a share keeps quarantined updates."""
    return marker_dir(share_root) / QUARANTINE_DIR_NAME


def quarantine_updates(
    share_root: Path, guid: str, updates: Sequence[bytes], reason: str
) -> Path | None:
    """Write ``updates`` of doc ``guid`` and ``reason`` to the share's quarantine;
    return the file, or None when MAX_QUARANTINE_FILES are already kept.

    Raises OSError if the files cannot be written.
    """
    directory = quarantine_dir(share_root)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if sum(1 for p in directory.iterdir() if p.suffix != ".reason") >= MAX_QUARANTINE_FILES:
        return None
    path = directory / f"{time.time_ns()}-{log_path(share_root, guid).name}"
    write_file_atomically(path, fmt.encode_header() + fmt.encode_updates(updates), mode=0o600)
    write_file_atomically(path.with_name(path.name + ".reason"), f"{reason}\n".encode(), mode=0o600)
    return path
