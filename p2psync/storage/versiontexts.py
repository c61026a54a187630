"""The texts of versions that no log holds: a chunked file's (docs/history.md).

A chunked file's text is spread over chunk docs, each with a log of its own that is
compacted on its own, so its root's log cannot rebuild a past text. Each version of
such a file keeps its text in the folder ``<root log>.texts/``, chunk by chunk: a
file per chunk text, named by its SHA-256 (so a chunk no edit touched is stored once
for every version that holds it, and need not even be loaded to make a version),
and a list of the chunks in order (guid, name, size), named by the SHA-256 of the
list (``.list``). Each file is zlib-compressed and written durably
(temp file, fsync, rename, directory fsync) before the timeline names the list.
Files no version's list names are removed once the timeline that stopped naming
them is written.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable
from pathlib import Path

from p2psync.errors import StorageError
from p2psync.storage.fileops import write_file_atomically

SUFFIX = ".texts"
LIST_SUFFIX = ".list"
_NAME = re.compile(r"[0-9a-f]{64}(\.list)?")


def texts_dir(log_path: Path) -> Path:
    """The folder of version texts beside the log at ``log_path``."""
    return log_path.with_name(log_path.name + SUFFIX)


Row = tuple[str, str, int]
"""A chunk of a version's text: the chunk doc's guid, its text's name, its UTF-8 size."""


class VersionTexts:
    """The version texts of one log (see the module docstring)."""

    def __init__(self, log_path: Path) -> None:
        self.path = texts_dir(log_path)

    def put_piece(self, text: str) -> str:
        """Store one chunk's text durably (if no file holds it yet); its name."""
        return self._store(text.encode(), "")

    def put_rows(self, rows: list[Row]) -> str:
        """Store a version's list of chunks (their texts stored already); its key."""
        lines = "\n".join(f"{guid} {name} {size}" for guid, name, size in rows)
        return self._store(lines.encode(), LIST_SUFFIX)

    def rows(self, key: str) -> list[Row]:
        """The chunks of the version text ``key``; StorageError if it is missing or
        damaged."""
        rows: list[Row] = []
        for line in self._read(key + LIST_SUFFIX).decode().splitlines():
            try:
                guid, name, size = line.split(" ")
                rows.append((guid, name, int(size)))
            except ValueError:
                raise StorageError(
                    self.path / key, "a version's list of chunks is malformed"
                ) from None
        return rows

    def piece(self, name: str) -> str:
        """One chunk's text stored as ``name``."""
        return self._read(name).decode()

    def get(self, key: str) -> str:
        """The whole text stored as ``key``; StorageError if a part is missing or damaged."""
        return "".join(self.piece(name) for _, name, _ in self.rows(key))

    def keep_only(self, keys: Iterable[str]) -> None:
        """Remove the files no list in ``keys`` names (call once a timeline naming
        only ``keys`` is written). A list that cannot be read keeps everything."""
        kept = set()
        for key in keys:
            try:
                rows = self.rows(key)
            except StorageError:
                return
            kept.add(key + LIST_SUFFIX)
            kept.update(name for _, name, _ in rows)
        try:
            found = list(self.path.iterdir())
        except FileNotFoundError:
            return
        for file in found:
            if _NAME.fullmatch(file.name) and file.name not in kept:
                file.unlink(missing_ok=True)

    def _store(self, data: bytes, suffix: str) -> str:
        """Write ``data`` as the file named by its hash (if none is); the hash."""
        key = hashlib.sha256(data).hexdigest()
        target = self.path / (key + suffix)
        if not target.exists():
            self.path.mkdir(exist_ok=True)
            write_file_atomically(target, zlib.compress(data, 6))
        return key

    def _read(self, name: str) -> bytes:
        target = self.path / name
        try:
            data = zlib.decompress(target.read_bytes())
        except FileNotFoundError:
            raise StorageError(target, "a part of this version's text is missing") from None
        except (OSError, zlib.error) as exc:
            raise StorageError(
                target, f"a part of this version's text is unreadable: {exc}"
            ) from None
        if hashlib.sha256(data).hexdigest() != name.removesuffix(LIST_SUFFIX):
            raise StorageError(target, "a part of this version's text fails its checksum")
        return data
