"""Walking a share folder: every file to sync, with its stat. Blocking.

Symlinks are never followed (neither to files nor to folders) and are reported,
as are sockets, devices and names that are not valid share paths; ignored files and
folders (``.p2psyncignore``, the built-in rules, ``.p2psync/``) are not descended
into.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from p2psync.errors import UnsafePathError
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.ignore import IgnoreRules
from p2psync.mirror.paths import share_path


def walk_share(
    root: Path, ignore: IgnoreRules
) -> tuple[dict[str, FileStat], list[tuple[str, str]]]:
    """``(files, skipped)``: share path -> stat of every file to sync, and
    ``(path, reason)`` for what was left out other than by ignore rules."""
    files: dict[str, FileStat] = {}
    skipped: list[tuple[str, str]] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(root / folder if folder else root))
        except OSError as exc:
            skipped.append((folder or ".", f"cannot be read: {exc.strerror}"))
            continue
        for item in entries:
            rel = f"{folder}/{item.name}" if folder else item.name
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile
            is_dir = stat.S_ISDIR(st.st_mode)
            if ignore.ignored(rel, is_dir):
                continue
            try:
                share_path(rel)
            except UnsafePathError as exc:
                skipped.append((rel, exc.reason))
                continue
            if is_dir:
                pending.append(rel)
            elif stat.S_ISREG(st.st_mode):
                files[rel] = FileStat.of(st)
            elif stat.S_ISLNK(st.st_mode):
                skipped.append((rel, "a symlink (not followed)"))
            else:
                skipped.append((rel, "not a regular file"))
    return files, skipped
