"""The changes a soak worker makes to one device's share folder, as a user and a
local program would: editor saves of every style, appends through the storage API,
creates, renames and deletes.

A save is a read-modify-write. The daemon writes a file by renaming a new one over
it (docs/mirror.md), so a file that changed under the saver has a new inode or
stat. Each save compares the stat it read with the file's just before its first
write (a careful editor's "changed on disk" check: the save is dropped, nothing was
written) and, after its last write, checks that the path still names what it wrote:
if not, the daemon replaced the file in between and the write never landed; the
token is *withdrawn* (not counted). The in-place, two-step and append styles check
the inode they write through, so nothing the daemon wrote can be overwritten
unseen; the rename and delete-then-create styles leave a window of one system call
between the check and the replace or unlink (as any editor does).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycrdt

from p2psync.errors import StorageError
from p2psync.mirror.chunked import chunk_order
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID, ManifestView, read_entries
from p2psync.storage import append_update, read_state
from p2psync.storage.compaction import replay
from p2psync.storage.layout import log_path
from tests.soak.model import TOKEN, Model

APPENDABLE = (FileKind.TEXT, FileKind.CHUNKED)
STYLES = ("inplace", "two-step", "rename", "delete-create", "append")
TOKEN_LINE = re.compile(rb"^.*\btk-[0-9]+-[0-9]{6}\b.*\n", re.MULTILINE)


@dataclass
class Place:
    """One device as a worker sees it: its name, its share folder, and a way to
    export a doc through its daemon (None while the daemon is down)."""

    name: str
    folder: Path
    export: Callable[[str], bytes | None]


def stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns


def text_files(folder: Path) -> list[str]:
    """The share paths of the soak's files present in ``folder`` now."""
    found = []
    for path in folder.rglob("*.txt"):
        rel = path.relative_to(folder)
        if rel.parts[0] != ".p2psync":
            found.append(rel.as_posix())
    return sorted(found)


def token_line(model: Model, token: str, place: Place, how: str) -> bytes:
    return f"{token} {how} on {place.name} at {model.now():.2f}s\n".encode()


def save(model: Model, place: Place, rel: str, style: str, rng: random.Random) -> None:
    """Insert a token line at a random line boundary of ``rel`` (sometimes also remove
    a token line seen there), written in ``style``; record what came of it."""
    path = place.folder / rel
    how = f"save:{style}"
    try:
        with path.open("rb") as f:
            before = os.fstat(f.fileno())
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):
        model.count("save skipped: file gone")
        return
    token = model.new_token()
    line = token_line(model, token, place, how)
    lines = data.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    removed: str | None = None
    seen = [i for i, text in enumerate(lines) if TOKEN_LINE.fullmatch(text)]
    if style == "append":
        new = b"".join(lines) + line
    else:
        if seen and rng.random() < 0.2:
            index = rng.choice(seen)
            match = TOKEN.search(lines[index])
            removed = match.group().decode() if match else None
            del lines[index]
        at = rng.randint(0, len(lines))
        new = b"".join(lines[:at]) + line + b"".join(lines[at:])
    writer = WRITERS[style]
    outcome = writer(path, before, new, rng)
    if outcome == "changed":
        model.count("save dropped: file changed since read", f"{rel} on {place.name}")
    elif outcome == "ok":
        model.ack(token, place.name, how, rel)
        model.count(how)
        if removed is not None:
            model.line_deleted(removed, place.name)
    else:
        model.withdraw(token, place.name, how, rel, outcome)
        model.count("save raced: withdrawn", f"{token} {rel} on {place.name}: {outcome}")


def _unchanged(path: Path, before: os.stat_result) -> bool:
    try:
        return stat_key(path.stat()) == stat_key(before)
    except FileNotFoundError:
        return False


def _landed(path: Path, ino: int) -> str:
    """The outcome of a write: "ok" if ``path`` still names inode ``ino``, else why not."""
    try:
        now = path.stat().st_ino
    except FileNotFoundError:
        return "the file was gone right after the write"
    return "ok" if now == ino else "the daemon replaced the file during the write"


def write_in_place(path: Path, before: os.stat_result, new: bytes, rng: random.Random) -> str:
    """``open(path, "w")`` and one write, checked on the inode being written."""
    return _through_fd(path, before, new, pause=0.0)


def write_two_steps(path: Path, before: os.stat_result, new: bytes, rng: random.Random) -> str:
    """Truncate, let the watcher see the empty file a moment, then write."""
    return _through_fd(path, before, new, pause=rng.uniform(0.0, 0.05))


def _through_fd(path: Path, before: os.stat_result, new: bytes, pause: float) -> str:
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return "changed"
    try:
        if stat_key(os.fstat(fd)) != stat_key(before):
            return "changed"
        os.ftruncate(fd, 0)
        if pause:
            time.sleep(pause)  # workload: an editor that truncates, then writes
        os.pwrite(fd, new, 0)
        ino = os.fstat(fd).st_ino
    finally:
        os.close(fd)
    return _landed(path, ino)


def write_append(path: Path, before: os.stat_result, new: bytes, rng: random.Random) -> str:
    """Append the new tail (the token line) through an ``O_APPEND`` descriptor."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except FileNotFoundError:
        return "changed"
    try:
        if stat_key(os.fstat(fd)) != stat_key(before):
            return "changed"
        os.write(fd, new[before.st_size :])
        ino = os.fstat(fd).st_ino
    finally:
        os.close(fd)
    return _landed(path, ino)


def write_rename(path: Path, before: os.stat_result, new: bytes, rng: random.Random) -> str:
    """Write a temp file beside it (an ignored ``*.tmp`` name), rename it over."""
    temp = path.with_name(f".{path.name}.{rng.randrange(1 << 30)}.tmp")
    temp.write_bytes(new)
    ino = temp.stat().st_ino
    if not _unchanged(path, before):
        temp.unlink()
        return "changed"
    temp.replace(path)
    return _landed(path, ino)


def write_delete_create(path: Path, before: os.stat_result, new: bytes, rng: random.Random) -> str:
    """Delete the file, then create it anew (exclusively: never over a file the
    daemon wrote back meanwhile)."""
    if not _unchanged(path, before):
        return "changed"
    try:
        path.unlink()
    except FileNotFoundError:  # the daemon moved or deleted it since the check
        return "changed"
    if rng.random() < 0.5:
        time.sleep(rng.uniform(0.0, 0.05))  # workload: some editors take a moment
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return "the daemon wrote the file back between the delete and the create"
    try:
        os.write(fd, new)
        ino = os.fstat(fd).st_ino
    finally:
        os.close(fd)
    return _landed(path, ino)


WRITERS: dict[str, Callable[[Path, os.stat_result, bytes, random.Random], str]] = {
    "inplace": write_in_place,
    "two-step": write_two_steps,
    "rename": write_rename,
    "delete-create": write_delete_create,
    "append": write_append,
}


def api_append(model: Model, place: Place, rel: str, rng: random.Random) -> None:
    """Insert a token line through ``append_update``, made by a fresh client from the
    doc's current state (from ``doc export`` when the daemon runs, else its log). In a
    chunked file, the token goes into one of its chunk docs, after a newline in it."""
    log_dir = place.folder
    try:
        entries, _ = read_entries(replay([read_state(log_path(log_dir, MANIFEST_GUID))]))
    except (FileNotFoundError, StorageError):
        model.count("append skipped: no manifest")
        return
    entry = ManifestView.of(entries).by_path.get(rel)
    if entry is None or entry.deleted or entry.kind not in APPENDABLE:
        model.count("append skipped: no live text entry")  # not synced yet, or deleted
        return
    guid = entry.guid if entry.kind is FileKind.TEXT else _some_chunk(log_dir, entry.guid, rng)
    if guid is None:
        model.count("append skipped: no chunk")
        return
    # A converted root's export is its file's whole text in a fresh doc (docs/mirror.md,
    # "doc export"), not the root's state: an update made on it would anchor on the
    # export's client, and the root's log would hold it pending for ever.
    exported = entry.kind is FileKind.TEXT or guid != entry.guid
    state = place.export(guid) if rng.random() < 0.5 and exported else None
    source = "export"
    if state is None:
        source = "log"
        try:
            state = read_state(log_path(log_dir, guid))
        except (FileNotFoundError, StorageError):
            model.count("append skipped: no log")
            return
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=rng.randrange(1, 1 << 32))
    doc.apply_update(state)
    content = doc.get("content", type=pycrdt.Text)
    text = str(content)
    starts = [i + 1 for i, c in enumerate(text) if c == "\n"]
    if entry.kind is FileKind.TEXT:
        starts.insert(0, 0)
        if not text.endswith("\n") and text:
            starts.pop()  # the end of an unterminated last line is no line boundary
    elif not starts:  # a chunk may begin and end mid-line
        model.count("append skipped: no line boundary in the chunk")
        return
    token = model.new_token()
    line = token_line(model, token, place, f"append({source})").decode()
    sv = doc.get_state()
    content.insert(rng.choice(starts), line)
    try:
        append_update(log_path(log_dir, guid), doc.get_update(sv))
    except StorageError as exc:
        model.count(f"append failed: {type(exc).__name__}")
        return
    model.ack(token, place.name, "append", rel)
    model.count("append" if entry.kind is FileKind.TEXT else "append to a chunk")


def _some_chunk(log_dir: Path, root_guid: str, rng: random.Random) -> str | None:
    """One of a chunked file's chunk docs, as its root's log lists them now."""
    try:
        root_state = read_state(log_path(log_dir, root_guid))
    except (FileNotFoundError, StorageError):
        return None
    root: pycrdt.Doc[Any] = pycrdt.Doc()
    root.apply_update(root_state)
    chunks = chunk_order(root, root_guid)
    return rng.choice(chunks) if chunks else None


def create(model: Model, place: Place, rng: random.Random) -> None:
    """A new file (sometimes in a subfolder) holding one to three token lines."""
    rel = _fresh_name(model, place, rng)
    tokens = [model.new_token() for _ in range(rng.randint(1, 3))]
    path = place.folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(token_line(model, t, place, "create") for t in tokens))
    for token in tokens:
        model.ack(token, place.name, "create", rel)
    model.count("create")


def rename(model: Model, place: Place, rel: str, rng: random.Random) -> None:
    new = _fresh_name(model, place, rng)
    (place.folder / new).parent.mkdir(parents=True, exist_ok=True)
    try:
        (place.folder / rel).rename(place.folder / new)
    except FileNotFoundError:
        model.count("rename skipped: file gone")
        return
    model.renamed(rel, new)
    model.count("rename", f"{rel} -> {new} on {place.name}")


def delete(model: Model, place: Place, rel: str) -> None:
    try:
        (place.folder / rel).unlink()
    except FileNotFoundError:
        model.count("delete skipped: file gone")
        return
    model.file_deleted(rel, place.name)
    model.count("delete", f"{rel} on {place.name}")


def _fresh_name(model: Model, place: Place, rng: random.Random) -> str:
    folder = "sub/" if rng.random() < 0.25 else ""
    return f"{folder}{place.name}-{model.new_token().rsplit('-', 1)[1]}.txt"
