"""Where a share keeps its logs, and how a doc guid names its log file.

A shared folder holds a ``.p2psync/`` directory; its presence marks the folder as a
live share (a missing marker stops the share instead of reading as "all deleted").
Each doc's log is ``.p2psync/docs/<name>.ylog`` where ``<name>`` is the guid's UTF-8
bytes in lowercase base32 without padding: reversible, safe on every filesystem,
and case-insensitive-safe.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path, PurePosixPath

from p2psync.errors import UsageError

MARKER_DIR_NAME = ".p2psync"
DOCS_DIR_NAME = "docs"
LOG_SUFFIX = ".ylog"
MAX_GUID_BYTES = 150  # 240 base32 characters: under the 255-byte name limit


class InvalidGuidError(UsageError, ValueError):
    """A string cannot be a doc guid (empty, too long), or a path names no doc of a
    share (outside it, its folder itself, inside its ``.p2psync``): a bad argument of a
    ``doc`` command or control call. Also a ValueError, as a bad value from anyone."""


def marker_dir(share_root: Path) -> Path:
    """The ``.p2psync`` directory of a share."""
    return share_root / MARKER_DIR_NAME


def docs_dir(share_root: Path) -> Path:
    """The directory holding a share's doc logs."""
    return share_root / MARKER_DIR_NAME / DOCS_DIR_NAME


def check_guid(guid: str) -> str:
    """Return ``guid`` if it can name a doc; raise InvalidGuidError otherwise."""
    raw = guid.encode("utf-8", errors="strict") if guid.isprintable() else b""
    if not raw or len(raw) > MAX_GUID_BYTES:
        raise InvalidGuidError(f"doc guid {guid!r} must be 1 to {MAX_GUID_BYTES} printable bytes")
    return guid


def log_path(share_root: Path, guid: str) -> Path:
    """The log file of doc ``guid`` in the share at ``share_root``."""
    name = base64.b32encode(check_guid(guid).encode()).decode().rstrip("=").lower()
    return docs_dir(share_root) / f"{name}{LOG_SUFFIX}"


def guid_of_log(path: Path) -> str | None:
    """The guid a log file name encodes, or None if it is not a doc log's name."""
    if path.suffix != LOG_SUFFIX:
        return None
    stem = path.name[: -len(LOG_SUFFIX)].upper()
    try:
        raw = base64.b32decode(stem + "=" * (-len(stem) % 8))
        return check_guid(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, InvalidGuidError):
        return None


def guid_for_file(share_root: Path, file: Path) -> str:
    """The guid of a doc named by the path of ``file`` in the share (``path_in_share``),
    as ``doc apply`` names a doc the manifest has no entry for; InvalidGuidError if
    that path cannot name a doc (over ``MAX_GUID_BYTES``)."""
    return check_guid(path_in_share(share_root, file))


def path_in_share(share_root: Path, file: Path) -> str:
    """The share path of ``file``, a path inside the share: its relative POSIX path,
    whatever its length (a file of the manifest is found by it, not named by it).

    Raises InvalidGuidError, saying why, if ``file`` is not inside the share, is the
    share's folder itself, or is inside its ``.p2psync`` directory.
    """
    try:
        relative = PurePosixPath(file.resolve().relative_to(share_root.resolve()).as_posix())
    except ValueError:
        raise InvalidGuidError(f"{file} is not inside the share at {share_root}") from None
    if not relative.parts:
        raise InvalidGuidError(f"{file} is the share's folder itself, not a file of the share")
    if relative.parts[0] == MARKER_DIR_NAME:
        raise InvalidGuidError(
            f"{file} is not a file of the share: it is inside {MARKER_DIR_NAME}, the "
            "folder of p2psync's own data"
        )
    return str(relative)
