"""Real editing traces (``josephg/editing-traces``) as text and as Yjs v1 updates.

Tests and benchmarks use these to get realistic documents: ``load_trace`` gives the
patches, ``trace_updates`` replays them into a pycrdt ``Doc`` and returns one Yjs v1
update per patch, exactly what a peer typing the document would have sent.

Where things are (both read from the environment at call time, or passed in):

- traces: ``$P2PSYNC_TRACES``, else ``<repo>/../shared/data/editing-traces``;
- replay cache: ``$P2PSYNC_CACHE_DIR``, else ``<repo>/bench/.work`` (git-ignored).

Positions: trace positions count Unicode code points, while pycrdt 0.14 ``Text``
indices (``insert``, ``del text[a:b]``, ``len``) count UTF-8 bytes. Passing code points
straight through silently builds the wrong text once non-ASCII text appears (a byte
index inside a character is not even refused: the insert lands somewhere else), so
the replay converts every position against a mirror of the current text.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pycrdt

REPO_DIR = Path(__file__).resolve().parents[1]
TRACES_ENV = "P2PSYNC_TRACES"
CACHE_ENV = "P2PSYNC_CACHE_DIR"
ROOT_TEXT = "content"
"""Name of the root ``Text`` the traces are replayed into."""

_CACHE_MAGIC = b"P2PSYNC-TRACE-UPDATES-1\n"
_U32 = struct.Struct(">I")


class TraceError(Exception):
    """A trace file is missing or malformed, or its replay did not give its endContent."""


class Patch(NamedTuple):
    """One edit: at code point ``pos`` delete ``delete`` code points, then insert ``insert``."""

    pos: int
    delete: int
    insert: str


@dataclass(frozen=True)
class Trace:
    """An editing trace: the starting text, every patch in order, and the final text."""

    name: str
    start_content: str
    end_content: str
    patches: list[Patch]


def traces_dir() -> Path:
    """The directory holding ``<name>.json.gz`` traces (``$P2PSYNC_TRACES`` overrides)."""
    override = os.environ.get(TRACES_ENV)
    if override:
        return Path(override)
    return REPO_DIR.parent / "shared" / "data" / "editing-traces"


def cache_dir() -> Path:
    """Where replayed update streams are cached (``$P2PSYNC_CACHE_DIR`` overrides)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    return REPO_DIR / "bench" / ".work"


def load_trace(name: str, *, directory: Path | None = None) -> Trace:
    """Read trace ``name`` (e.g. ``"seph-blog1"``) from ``directory`` or ``traces_dir()``.

    Raises TraceError if the file is missing or not in the editing-traces format.
    """
    path = _trace_path(name, directory)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, EOFError, ValueError) as exc:
        raise TraceError(f"trace {name}: cannot read {path}: {exc}") from exc
    try:
        start, end = raw["startContent"], raw["endContent"]
        patches = [
            Patch(pos, delete, insert)
            for txn in raw["txns"]
            for pos, delete, insert in txn["patches"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(f"trace {name}: {path} is not an editing trace: {exc!r}") from exc
    for i, patch in enumerate(patches):
        if not (
            isinstance(patch.pos, int)
            and isinstance(patch.delete, int)
            and isinstance(patch.insert, str)
            and patch.pos >= 0
            and patch.delete >= 0
        ):
            raise TraceError(f"trace {name}: {path}: patch {i} is malformed: {patch!r}")
    if not (isinstance(start, str) and isinstance(end, str)):
        raise TraceError(f"trace {name}: {path}: startContent/endContent are not strings")
    return Trace(name, start, end, patches)


def replay(trace: Trace, *, client_id: int) -> list[bytes]:
    """Replay ``trace`` into a fresh ``Doc(client_id=client_id)``; return its updates.

    The root ``Text`` is named ``content``. A non-empty startContent is inserted by a
    first transaction of its own, then each patch is one transaction, and the Yjs v1
    update of every transaction is returned in order (a patch that changes nothing
    gives none; the published traces have no such patch). Raises TraceError if a patch
    reaches past the end of the text (checked first: pycrdt would panic) or the
    resulting text is not the trace's endContent.
    """
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
    text = doc.get(ROOT_TEXT, type=pycrdt.Text)
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    offsets = _Utf8Offsets(text)
    start_patch = [Patch(0, 0, trace.start_content)] if trace.start_content else []
    for i, patch in enumerate(start_patch + trace.patches):
        if patch.pos + patch.delete > offsets.length:  # pycrdt would panic
            raise TraceError(
                f"trace {trace.name}: patch {i - len(start_patch)} {patch[:2]} reaches past "
                f"the end of the text ({offsets.length} code points)"
            )
        start, end = offsets.span(patch.pos, patch.delete)
        with doc.transaction():
            if patch.delete:
                del text[start:end]
            if patch.insert:
                text.insert(start, patch.insert)
        offsets.applied(patch)
    doc.unobserve(subscription)
    if str(text) != trace.end_content:
        raise TraceError(f"trace {trace.name}: the replay did not give its endContent")
    return updates


def trace_updates(
    name: str,
    *,
    client_id: int = 1,
    directory: Path | None = None,
    cache: Path | None = None,
) -> list[bytes]:
    """One Yjs v1 update per patch of trace ``name`` (see ``replay``), cached on disk.

    The first call replays the trace (automerge-paper takes about 10 s) and writes the
    updates to ``cache`` (default ``cache_dir()``), keyed by trace name, client ID and
    pycrdt version; later calls read that file. A cache file that is damaged or stale
    is ignored and rewritten. The file is replaced atomically, so concurrent callers
    at worst replay twice. Raises TraceError as ``load_trace`` and ``replay`` do.
    """
    source = _trace_path(name, directory)
    version = importlib.metadata.version("pycrdt")
    cache = cache_dir() if cache is None else cache
    path = cache / f"{name}.client{client_id}.pycrdt-{version}.updates"
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise TraceError(f"trace {name}: cannot read {source}: {exc}") from exc
    key = f"trace={name} client_id={client_id} pycrdt={version} source_bytes={size}".encode()
    cached = _read_cache(path, key)
    if cached is not None:
        return cached
    updates = replay(load_trace(name, directory=directory), client_id=client_id)
    _write_cache(path, key, updates)
    return updates


def _trace_path(name: str, directory: Path | None) -> Path:
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"not a trace name: {name!r}")
    return (traces_dir() if directory is None else directory) / f"{name}.json.gz"


class _Utf8Offsets:
    """Converts code point positions of the replayed text into pycrdt's UTF-8 offsets.

    While the text is pure ASCII both agree, and no mirror is kept (the string slicing
    would cost about a quarter of the replay time). A mirror of the text is built from the
    Doc when the first non-ASCII character arrives and dropped when the last one goes.
    """

    def __init__(self, text: pycrdt.Text) -> None:
        self._text = text
        self._mirror: str | None = None
        self._extra_bytes = 0  # UTF-8 bytes minus code points: 0 iff the text is ASCII
        self.length = 0
        """The text's length in code points."""

    def span(self, pos: int, delete: int) -> tuple[int, int]:
        """The byte offsets of code points ``[pos, pos + delete)`` in the current text."""
        if self._mirror is None:
            return pos, pos + delete
        start = len(self._mirror[:pos].encode())
        return start, start + len(self._mirror[pos : pos + delete].encode())

    def applied(self, patch: Patch) -> None:
        """Follow ``patch``, which the Text has just applied."""
        pos, delete, insert = patch
        self.length += len(insert) - delete
        if self._mirror is None:
            if not insert.isascii():
                self._mirror = str(self._text)  # already holds the patch
                self._extra_bytes = len(self._mirror.encode()) - len(self._mirror)
            return
        removed = self._mirror[pos : pos + delete]
        self._extra_bytes += len(insert.encode()) - len(insert)
        self._extra_bytes -= len(removed.encode()) - len(removed)
        if self._extra_bytes == 0:
            self._mirror = None
        else:
            self._mirror = self._mirror[:pos] + insert + self._mirror[pos + delete :]


def _read_cache(path: Path, key: bytes) -> list[bytes] | None:
    """The updates in cache file ``path`` if it is complete and made for ``key``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    header = _CACHE_MAGIC + _U32.pack(len(key)) + key
    if not data.startswith(header) or len(data) < len(header) + _U32.size:
        return None
    (count,) = _U32.unpack_from(data, len(header))
    offset = len(header) + _U32.size
    view = memoryview(data)
    updates: list[bytes] = []
    for _ in range(count):
        if offset + _U32.size > len(data):
            return None
        (length,) = _U32.unpack_from(data, offset)
        offset += _U32.size
        if offset + length > len(data):
            return None
        updates.append(bytes(view[offset : offset + length]))
        offset += length
    if offset != len(data) or len(updates) != count:
        return None  # truncated or trailing garbage: not the file we wrote
    return updates


def _write_cache(path: Path, key: bytes, updates: list[bytes]) -> None:
    """Write the cache file: magic, key, count, then each update length-prefixed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [_CACHE_MAGIC, _U32.pack(len(key)), key, _U32.pack(len(updates))]
    for update in updates:
        parts += (_U32.pack(len(update)), update)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(parts))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
