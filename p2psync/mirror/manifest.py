"""The manifest: a share's root doc, mapping share paths to file entries. Pure.

The manifest is the doc ``MANIFEST_GUID``. Its root ``Y.Map`` named ``files`` maps a
file doc's guid to a ``Y.Map`` entry (schema in docs/mirror.md): ``path``, ``kind``
(``text``/``binary``), ``deleted``, ``exec``, ``created`` (hybrid timestamp of the
entry's creation) and, once deleted, ``deleted_at`` (the content doc's state vector
at the deletion, so a concurrent edit brings the file back; for a chunked file also
``deleted_chunks``, its chunks' state vectors: ``mirror.revival``).

Entries are keyed by guid, not path, so two devices creating the same path at once
make two entries, never one entry whose content doc lost the other's text. The view
(``ManifestView``) resolves such collisions the same way on every device: among the
live entries of a path, the one created first (then the smaller guid) is the file;
the others are *shadowed* (the mirror keeps their text under ``.p2psync/conflicts/``
and marks them deleted). Entries whose path is unsafe (``paths.share_path``) are
listed apart and never reach the disk.

Docs named by a share path (guid == path, created by ``doc apply`` or an older
version) need no entry to be found: ``guid_for_path`` falls back to the path itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pycrdt

from p2psync.errors import P2PSyncError, UnsafePathError
from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.paths import share_path
from p2psync.replica.touched import Touched

MANIFEST_GUID = ".p2psync/manifest"
"""The manifest's doc guid: starts with ``.p2psync``, so no share path can take it."""
FILES = "files"


FILE_GUID_PREFIX = "f:"


def new_file_guid() -> str:
    """A random guid for a new file doc: ``f:`` and 128 random bits in hex. The colon
    keeps it from ever being a share path, so it is never taken for a doc named by
    its path."""
    return FILE_GUID_PREFIX + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the share as the manifest records it."""

    guid: str
    path: str
    kind: FileKind
    created: Timestamp
    deleted: bool = False
    exec: bool = False
    deleted_at: bytes = b""
    deleted_chunks: bytes = b""
    """A deleted chunked file's chunks' state vectors (``mirror.revival``)."""
    superseded_by: str = ""
    """Set with ``deleted`` when the entry lost its path to the entry of this guid."""
    born: str = ""
    """The path the entry was created at, set by its first rename ("": never renamed,
    or renamed by a version that did not keep it): an entry created where an earlier
    one lives is that one's twin even after it moved (``ManifestView.twins``)."""

    def fields(self) -> dict[str, Any]:
        """The entry as its ``Y.Map`` holds it."""
        wall, counter, device = self.created.to_wire()
        chunks: dict[str, Any] = (
            {"deleted_chunks": self.deleted_chunks} if self.deleted_chunks else {}
        )
        born = {"born": self.born} if self.born else {}
        return (
            chunks
            | born
            | {
                "path": self.path,
                "kind": self.kind.value,
                "created": [wall, counter, device],
                "deleted": self.deleted,
                "exec": self.exec,
                "deleted_at": self.deleted_at,
                "superseded_by": self.superseded_by,
            }
        )

    @property
    def order(self) -> tuple[int, int, bytes, str]:
        """Collision order: first created wins (``Timestamp``'s order: wall time,
        counter, device), then the smaller guid. A plain tuple, which sorts in C: the
        timestamps themselves took 1 s of each start to sort 100,000 entries."""
        created = self.created
        return created.wall_ms, created.counter, created.device, self.guid


class MalformedEntryError(P2PSyncError, ValueError):
    """A manifest entry a peer wrote that cannot be read; it is skipped."""


def parse_entry(guid: str, raw: object) -> Entry:
    """An entry from its ``Y.Map`` contents; ValueError (naming the field) otherwise.
    The path is not checked here (``ManifestView`` does)."""
    if not isinstance(raw, Mapping):
        raise MalformedEntryError(f"manifest entry {guid!r} is not a map")
    path, kind, created = raw.get("path"), raw.get("kind"), raw.get("created")
    if not isinstance(path, str):
        raise MalformedEntryError(f"manifest entry {guid!r} has no path")
    try:
        file_kind = FileKind(kind)
    except ValueError:
        raise MalformedEntryError(f"manifest entry {guid!r} has an unknown kind {kind!r}") from None
    if not isinstance(created, list | tuple) or len(created) != 3:
        raise MalformedEntryError(f"manifest entry {guid!r} has no creation time")
    wall, counter, device = created
    if not all(isinstance(n, int | float) and float(n).is_integer() for n in (wall, counter)):
        raise MalformedEntryError(f"manifest entry {guid!r} has a malformed creation time")
    if not isinstance(device, bytes | bytearray):
        raise MalformedEntryError(f"manifest entry {guid!r} has a creation time without a device")
    try:
        stamp = Timestamp(int(wall), int(counter), bytes(device))
    except ValueError as exc:
        raise MalformedEntryError(f"manifest entry {guid!r}: {exc}") from None
    return Entry(
        guid,
        path,
        file_kind,
        stamp,
        deleted=raw.get("deleted") is True,
        exec=raw.get("exec") is True,
        deleted_at=_bytes_or_empty(raw.get("deleted_at")),
        deleted_chunks=_bytes_or_empty(raw.get("deleted_chunks")),
        superseded_by=str(raw.get("superseded_by") or ""),
        born=born if isinstance(born := raw.get("born"), str) else "",
    )


def _bytes_or_empty(value: object) -> bytes:
    return bytes(value) if isinstance(value, bytes | bytearray) else b""


def read_entries(doc: pycrdt.Doc[Any]) -> tuple[dict[str, Entry], list[str]]:
    """Every well-formed entry of the manifest doc, and a sentence per malformed one."""
    files = doc.get(FILES, type=pycrdt.Map)
    entries: dict[str, Entry] = {}
    problems: list[str] = []
    for guid, raw in files.items():
        try:
            entries[guid] = parse_entry(guid, raw.to_py() if isinstance(raw, pycrdt.Map) else raw)
        except ValueError as exc:
            problems.append(str(exc))
    return entries, problems


def read_entry(doc: pycrdt.Doc[Any], guid: str) -> Entry | None:
    """The entry of ``guid`` (None: the manifest has none); ValueError if malformed."""
    files = doc.get(FILES, type=pycrdt.Map)
    if guid not in files:
        return None
    raw = files[guid]
    return parse_entry(guid, raw.to_py() if isinstance(raw, pycrdt.Map) else raw)


def watch_entries(doc: pycrdt.Doc[Any], touched: set[str]) -> Callable[[], None]:
    """Add to ``touched`` the guid of every entry a change of ``doc`` (local or a
    peer's) adds, replaces, removes or edits from now on; returns the call that stops.
    Until it is called the doc stays in memory: pycrdt's observer holds the Doc, in a
    cycle through the Rust side that Python's collector cannot see."""
    files = doc.get(FILES, type=pycrdt.Map)

    def note(events: list[Any]) -> None:
        for event in events:
            path = event.path
            if path:
                touched.add(str(path[0]))
            else:
                touched.update(event.keys)

    subscription = files.observe_deep(note)
    return lambda: files.unobserve(subscription)


def put_entry(doc: pycrdt.Doc[Any], entry: Entry) -> None:
    """Add or replace ``entry`` (call inside the doc's transaction)."""
    doc.get(FILES, type=pycrdt.Map)[entry.guid] = pycrdt.Map(entry.fields())


def set_fields(doc: pycrdt.Doc[Any], guid: str, **fields: Any) -> None:
    """Change some fields of an existing entry: concurrent changes of other fields
    (a rename here, the exec bit there) both survive."""
    entry = doc.get(FILES, type=pycrdt.Map)[guid]
    assert isinstance(entry, pycrdt.Map)
    for key, value in fields.items():
        entry[key] = value


@dataclass
class ManifestView:
    """Which entry is the file at each path, as every device resolves it."""

    by_path: dict[str, Entry] = field(default_factory=dict)
    by_guid: dict[str, Entry] = field(default_factory=dict)
    shadowed: list[tuple[Entry, Entry]] = field(default_factory=list)
    """(loser, winner): live entries that lost their path to an earlier one."""
    unsafe: list[tuple[Entry, str]] = field(default_factory=list)
    """Entries whose path may not be written, with the reason."""
    hidden: list[tuple[Entry, Entry]] = field(default_factory=list)
    """(entry, winner): live entries whose path is, on this device's filesystem, one
    file with the path of an earlier entry (``README.md`` and ``readme.md`` on a
    case-insensitive one). Unlike ``shadowed``, a local matter: the manifest keeps
    both, this device writes only the winner."""
    twins: list[tuple[Entry, Entry]] = field(default_factory=list)
    """(twin, elder): live entries created at a path where an earlier live entry is
    now, and moved since (``Entry.born``): a file taken in twice (a folder taken in
    again before it synced, then the file renamed), one file if their texts are
    alike (``Collisions.settle_twins``)."""
    moved_from: set[str] = field(default_factory=set, compare=False, repr=False)
    """The paths live entries were created at and moved from (``Entry.born``)."""
    key: Callable[[str], str] | None = field(default=None, compare=False, repr=False)
    """``NameRules.key`` the view was resolved with (None: only equal paths are one)."""
    claimed: dict[str, Entry] = field(default_factory=dict, compare=False, repr=False)
    """``key`` -> the entry of ``by_path`` that holds it (with a ``key`` only)."""
    changes: int = field(default=0, compare=False)
    """How many times ``replace`` changed the view in place (a new view starts at 0)."""
    touched: Touched = field(default_factory=Touched, compare=False, repr=False)
    """The paths ``add`` and ``replace`` changed since ``status`` last counted the
    files to write (``daemon.unwritten``); a new view is counted whole."""

    @classmethod
    def of(
        cls, entries: Mapping[str, Entry], key: Callable[[str], str] | None = None
    ) -> ManifestView:
        """The view of ``entries``; ``key`` (``NameRules.key``) tells which different
        paths are one file on this device's filesystem (None: only equal ones)."""
        view = cls(by_guid=dict(entries), key=key)
        view._resolve(entries)
        if key is not None:
            view._hide_collisions(key)
        view._find_twins()
        return view

    def _resolve(self, entries: Mapping[str, Entry]) -> None:
        """Of the live entries of one path, the first created is the file."""
        for entry in sorted(entries.values(), key=lambda e: e.order):
            if entry.deleted:
                continue
            try:
                share_path(entry.path)
            except UnsafePathError as exc:
                self.unsafe.append((entry, exc.reason))
                continue
            winner = self.by_path.get(entry.path)
            if winner is None:
                self.by_path[entry.path] = entry
            else:
                self.shadowed.append((entry, winner))

    def _find_twins(self) -> None:
        """Of the live entries that moved from the path they were created at, those
        created after the live entry now there (which held it first)."""
        for entry in self.by_path.values():
            if not entry.born or entry.born == entry.path:
                continue
            self.moved_from.add(entry.born)
            elder = self.by_path.get(entry.born)
            if elder is not None and elder.order < entry.order:
                self.twins.append((entry, elder))

    def _hide_collisions(self, key: Callable[[str], str]) -> None:
        """Of the paths that are one file here, the first created keeps its place."""
        claimed = self.claimed
        for entry in sorted(self.by_path.values(), key=lambda e: e.order):
            winner = claimed.setdefault(key(entry.path), entry)
            if winner is not entry:
                self.hidden.append((entry, winner))
                del self.by_path[entry.path]

    def add(self, entry: Entry) -> None:
        """Take in a new live entry of a path that has none (a file created here,
        before the manifest is re-read)."""
        self.by_guid[entry.guid] = entry
        self.by_path.setdefault(entry.path, entry)
        self.touched.add(entry.path)

    def replace(self, old: Entry | None, new: Entry | None) -> bool:
        """Put ``new`` in the place of ``old`` (``by_guid``'s entry of that guid; None:
        no entry) as ``of`` would, when that moves no other entry: ``old``, if live,
        alone holds its path (nothing shadowed or hidden by it), and ``new``, if live,
        has a safe path nothing else holds here. False (the view unchanged) otherwise:
        the view is then to be read anew. O(1) but for the shadowed, hidden and twins lists."""
        if old is not None and not old.deleted and not self._holds_alone(old):
            return False
        if self._twins_change(old, new):
            return False
        if new is not None and not new.deleted and not self._free_for(new, old):
            return False
        if old is not None:
            del self.by_guid[old.guid]
            if not old.deleted:
                del self.by_path[old.path]
                if self.key is not None:
                    del self.claimed[self.key(old.path)]
        if new is not None:
            self.by_guid[new.guid] = new
            if not new.deleted:
                self.by_path[new.path] = new
                if self.key is not None:
                    self.claimed[self.key(new.path)] = new
                if new.born and new.born != new.path:
                    self.moved_from.add(new.born)
        for entry in (old, new):
            if entry is not None:
                self.touched.add(entry.path)
        self.changes += 1
        return True

    def _twins_change(self, old: Entry | None, new: Entry | None) -> bool:
        """Whether putting ``new`` in the place of ``old`` may make or end a pair of
        ``twins`` (``of`` then finds them)."""
        if old is not None and any(old is e for pair in self.twins for e in pair):
            return True
        if new is None or new.deleted:
            return False
        if new.path in self.moved_from:
            return True
        elder = self.by_path.get(new.born) if new.born and new.born != new.path else None
        return elder is not None and elder.order < new.order

    def _holds_alone(self, entry: Entry) -> bool:
        return (
            self.by_path.get(entry.path) is entry
            and all(winner is not entry for _, winner in self.shadowed)
            and all(winner is not entry for _, winner in self.hidden)
        )

    def _free_for(self, entry: Entry, leaving: Entry | None) -> bool:
        try:
            share_path(entry.path)
        except UnsafePathError:
            return False
        if self.by_path.get(entry.path, leaving) is not leaving:
            return False
        return self.key is None or self.claimed.get(self.key(entry.path), leaving) is leaving

    def deleted_at(self, path: str) -> Entry | None:
        """The most recently created deleted entry of ``path``, if any (a file saved by
        delete-then-create comes back as the same doc). Never an entry that lost its
        path to another (``superseded_by``): that was never the file of the path, and
        its text is kept as a conflict copy; the file deleted there is the winner's."""
        found = [
            e for e in self.by_guid.values() if e.deleted and not e.superseded_by and e.path == path
        ]
        return max(found, key=lambda e: e.order) if found else None

    def guid_for_path(self, path: str) -> str:
        """The doc of ``path``: its entry's guid, else the path itself (a doc named by
        its path, adopted into the manifest when the mirror sees it). A hidden entry
        is found by its own path, as on every other device."""
        entry = self.by_path.get(path)
        if entry is not None:
            return entry.guid
        for hidden, _ in self.hidden:
            if hidden.path == path:
                return hidden.guid
        deleted = self.deleted_at(path)
        return deleted.guid if deleted is not None else path
