"""Paths inside a share: the one gate every path from a peer or from disk goes through.

A *share path* is a relative POSIX path (``notes/today.md``) naming a file or folder
inside a share, the same on every device. ``share_path`` accepts a path only if writing
it on any common filesystem (ext4, APFS/HFS+, NTFS/FAT) reaches exactly the file it
names, inside the share; ``is_inside`` turns it into a local path without following
symlinks; ``case_key`` says which paths collide on a case-insensitive filesystem.

What is refused, and why (docs/mirror.md, "Paths"):

- anything that leaves the share or is not canonical: absolute paths, ``..`` and ``.``
  components, empty components (``a//b``, a trailing ``/``), drive letters;
- separators and characters that change meaning elsewhere: ``\\`` (a separator on
  Windows) and ``:`` (a drive letter, or an NTFS alternate data stream: ``a:b`` writes a
  hidden stream of ``a``);
- control characters (C0, DEL, C1), NUL first, and lone surrogates (a name that is not
  valid UTF-8 on disk cannot be sent as text);
- names Windows maps to something else: device names (``CON``, ``PRN``, ``AUX``,
  ``NUL``, ``COM0``-``COM9``, ``LPT0``-``LPT9``, also with superscript digits,
  ``CONIN$``, ``CONOUT$``, with or without an extension) and names ending in a dot or a
  space (Windows strips them, so ``a.`` and ``a`` would be one file);
- a component over ``MAX_NAME_BYTES`` or a path over ``MAX_PATH_BYTES`` UTF-8 bytes;
- the internal folder ``.p2psync`` as the first component, in any case (a
  case-insensitive filesystem would write into it) and with format characters removed
  (HFS+ ignores some of them in names).

Characters that Windows merely refuses (``< > " | ? *``) are accepted: writing them
fails cleanly there, while refusing them would stop such files syncing between the
Linux and macOS devices that allow them. Unicode normalisation is kept as given (names
are bytes on Linux); ``case_key`` treats NFC and NFD spellings as one name.
"""

from __future__ import annotations

import re
import stat
import unicodedata
from pathlib import Path

from p2psync.errors import UnsafePathError

INTERNAL_DIR = ".p2psync"
"""The share's own folder (logs, kept versions); never a share path."""
MAX_NAME_BYTES = 255
"""The longest file name ext4, APFS and NTFS all accept, in UTF-8 bytes."""
MAX_PATH_BYTES = 4096
"""The longest share path, in UTF-8 bytes (Linux PATH_MAX)."""

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SUPERSCRIPT_DIGITS = "\u00b9\u00b2\u00b3"
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{port}{digit}" for port in ("com", "lpt") for digit in "0123456789" + _SUPERSCRIPT_DIGITS}
)


def share_path(raw: str) -> str:
    """``raw`` if it is a safe, canonical share path; raises UnsafePathError saying why
    otherwise. See the module docstring for what is refused."""
    reason = _unsafe_reason(raw)
    if reason is not None:
        raise UnsafePathError(raw, reason)
    return raw


def is_share_path(raw: str) -> bool:
    """Whether ``raw`` is a share path (``share_path`` accepts it as it is)."""
    try:
        share_path(raw)
    except UnsafePathError:
        return False
    return True


def _unsafe_reason(raw: str) -> str | None:
    if not raw:
        return "it is empty"
    if "\0" in raw:
        return "it holds a NUL character"
    if _CONTROL.search(raw):
        return "it holds a control character"
    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid UTF-8 (a lone surrogate)"
    if size > MAX_PATH_BYTES:
        return f"it is longer than {MAX_PATH_BYTES} UTF-8 bytes"
    if raw.startswith("/"):
        return "it is absolute"
    if "\\" in raw:
        return "it holds a backslash (a separator on Windows)"
    if ":" in raw:
        return "it holds a colon (a drive letter or an NTFS stream on Windows)"
    names = raw.split("/")
    if _fold_internal(names[0]) == INTERNAL_DIR:
        return f"it is inside the internal {INTERNAL_DIR}/ folder"
    for name in names:
        reason = _unsafe_name_reason(name)
        if reason is not None:
            return reason
    return None


def _unsafe_name_reason(name: str) -> str | None:
    if name == "":
        return "it has an empty component"
    if name in {".", ".."}:
        return f"it has a {name!r} component"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"a component is longer than {MAX_NAME_BYTES} UTF-8 bytes"
    if name[-1] in ". ":
        return f"{name!r} ends in a dot or space (Windows drops them)"
    if name.split(".", 1)[0].rstrip(" ").casefold() in _WINDOWS_DEVICES:
        return f"{name!r} is a device name on Windows"
    return None


def _fold_internal(name: str) -> str:
    """``name`` as a case-insensitive, format-character-blind filesystem sees it."""
    visible = "".join(c for c in name if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFC", visible).casefold()


def is_inside(root: Path, rel: str) -> Path:
    """The local path of share path ``rel`` under the share folder ``root``.

    Checks ``rel`` with ``share_path``, then looks at each component that exists on
    disk below ``root`` (``lstat``, nothing is followed): raises UnsafePathError if one
    is a symlink, the last one included, since writing through it could land outside
    the share. ``root`` itself may lie under symlinks. Other OSErrors from ``lstat``
    propagate. The answer holds at the time of the call: a writer that races with
    other programs must still open without following links.
    """
    share_path(rel)
    current = root
    for name in rel.split("/"):
        current = current / name
        try:
            mode = current.lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            break  # nothing below exists yet: nothing to follow
        if stat.S_ISLNK(mode):
            raise UnsafePathError(rel, f"{current} is a symlink (not followed)")
    return root / rel


def case_key(rel: str) -> str:
    """The key under which paths collide on a case-insensitive filesystem.

    Unicode's canonical caseless match (NFD, casefold, NFD), returned in NFC: ``A.txt``,
    ``a.TXT`` and the NFC and NFD spellings of ``é.txt`` share one key. Folding is a
    little wider than any one filesystem's (``ß`` and ``ss`` collide), which errs on the
    safe side: a collision reported, never a file overwritten.
    """
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFD", rel).casefold())
    return unicodedata.normalize("NFC", folded)
