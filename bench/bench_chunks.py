"""A 50 MB text as chunk docs (issue 5, docs/mirror.md): an edit near its end, synced.

Two peers' doc logs are set up holding the same text: as a root and chunk docs
(``mirror.chunked``), and, for the anchor, a 50 KB text as one doc. The edit is then
made and synced doc by doc, each side in a fresh process so its memory is its own:

- the editor loads the root and the chunks the edit touches from its logs (it knows
  the chunk lengths, as the mirror's layout does), inserts near the end and writes
  the updates out (what goes on the wire);
- the receiver loads the docs those updates name from its logs, applies them and
  appends them durably to its logs.

Time is the sum of both calls (no interpreter start); memory is the larger of the two
calls' peak RSS growth, against the growth of loading one chunk doc alone.

The last rows add the receiver's file write, as the mirror does it after a remote
change (``patch.write_chunked``, what ``Mirror._stream_chunked`` calls): the file
stays one file; its tail, from the changed chunk on, is patched in place behind a
durable record, and its new SHA-256 is taken from the hash state at that chunk's
boundary, which the mirror holds since it last wrote or read the file (here: the
same patch made once before, untimed).

The editor's file save is measured on its own, as the mirror reads it
(``chunkscan.scan_save`` against the layout, from the hash states the mirror holds
since it last wrote the file, then ``ChunkedFiles.save_scanned``, the updates
appended durably): its time is O(file), since every byte has to be read to
know what changed, so its anchor is reading and hashing the same file once; its
memory is held to O(chunk).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pycrdt
import trio

from bench.harness import BenchContext, Metric, run_in_subprocess
from p2psync.mirror.chunked import CHUNK_MAX_BYTES, CONTENT, ChunkedText, chunk_order, seed
from p2psync.mirror.chunkfile import (
    ChunkedFiles,
    Chunking,
    Layout,
    Piece,
    piece_of,
)
from p2psync.mirror.chunkscan import scan_save
from p2psync.mirror.fileio import local_stat, read_file, write_file
from p2psync.mirror.kinds import file_digest
from p2psync.mirror.patch import DigestMarks, write_chunked
from p2psync.replica.doc import DocReplica
from p2psync.storage import DocLog, append_update, read_state, read_updates
from p2psync.storage.layout import log_path

GROUP = "Large docs as chunks (#5)"
BIG_BYTES = 50 * 1000 * 1000
QUICK_BIG_BYTES = 5 * 1000 * 1000
SMALL_BYTES = 50 * 1000
ROOT = "f:big"
SINGLE = "f:small"
EDIT = "an edit near the end\n"
FROM_END_CHARS = 30
RUNS = 3

YDoc = pycrdt.Doc[Any]


def run(ctx: BenchContext) -> None:
    big = QUICK_BIG_BYTES if ctx.quick else BIG_BYTES
    with tempfile.TemporaryDirectory(prefix="p2psync-bench-chunks-") as tmp:
        work = Path(tmp)
        setup(work / "big", big, chunked=True)
        setup(work / "small", SMALL_BYTES, chunked=False)
        big_runs = [sync_once(work / "big") for _ in range(RUNS)]
        small_runs = [sync_once(work / "small") for _ in range(RUNS)]
        one_chunk = min(chunk_load_growth(work / "big") for _ in range(RUNS))
        big_writes = [run_in_subprocess("bench.bench_chunks:mirror_write", str(work / "big"))
                      for _ in range(RUNS)]  # fmt: skip
        small_writes = [
            run_in_subprocess("bench.bench_chunks:mirror_write", str(work / "small"))
            for _ in range(RUNS)
        ]
        saves = [editor_save(work / "big") for _ in range(RUNS)]
        read_s = min(run_in_subprocess("bench.bench_chunks:read_and_hash", str(work / "big"))
                     .seconds for _ in range(RUNS))  # fmt: skip
    big_write_s = min(float(run.result) for run in big_writes)
    small_write_s = min(float(run.result) for run in small_writes)
    write_growth = min(run.peak_rss_bytes - run.baseline_rss_bytes for run in big_writes)
    big_s = min(seconds for seconds, _, _ in big_runs)
    small_s = min(seconds for seconds, _, _ in small_runs)
    growth = min(grown for _, grown, _ in big_runs)
    loaded = max(docs for _, _, docs in big_runs)
    size = f"{big / 1e6:g} MB"
    ctx.report(Metric(
        GROUP, f"edit near the end of {size}: edit + sync", big_s, "s",
        f"the same edit of a {SMALL_BYTES // 1000} KB one-doc text", small_s, target_ratio=10,
        note=(f"editor: load root + touched chunk logs, insert {len(EDIT)} characters "
              f"{FROM_END_CHARS} from the end; receiver: load the docs the updates name "
              f"({loaded} here), apply, durable append; fresh process each, best of 3"),
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, f"edit near the end of {size}: memory growth", growth, "bytes",
        "loading one chunk doc", one_chunk, target_ratio=3,
        note=(f"the larger peak-RSS growth of the two sides; chunks of up to "
              f"{CHUNK_MAX_BYTES // 1024} KiB, created half full"),
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, f"edit near the end of {size}: with the receiver's file write",
        big_s + big_write_s, "s", f"the same for the {SMALL_BYTES // 1000} KB file",
        small_s + small_write_s, target_ratio=10,
        note=("adds the mirror's write after the remote change, as it does it "
              "(patch.write_chunked): the changed chunk's doc loaded, the tail from it "
              "patched in place behind a durable record, fsync, the digest from the hash "
              "state the mirror holds at that chunk's boundary since its last write; the "
              "50 KB file is read, compared and written whole (temp file, fsync, rename)"),
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, f"edit near the end of {size}: memory growth of the file write", write_growth,
        "bytes", "loading one chunk doc", one_chunk, target_ratio=3,
        note="the receiver's mirror patching the file twice, in a fresh process",
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, f"edit near the end of {size}: the editor's file save", min(saves)[0], "s",
        f"reading and hashing the {size} file once", read_s, target_ratio=2,
        note=("the mirror's side of a save made by another program: the file read 256 KiB "
              "at a time against the layout (each chunk's SHA-256, the whole file's), the "
              "changed bytes diffed into the touched chunk, the updates appended durably; "
              "fresh process, best of 3"),
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, f"edit near the end of {size}: memory growth of the file save",
        min(grown for _, grown in saves), "bytes", "loading one chunk doc", one_chunk,
        target_ratio=3, note="the editor's mirror reading the save, in a fresh process",
    ))  # fmt: skip


def setup(work: Path, size: int, *, chunked: bool) -> None:
    """Both peers' logs holding one text of about ``size`` UTF-8 bytes; and the chunk
    lengths the editor knows (``layout.json``)."""
    text = make_text(size)
    docs: dict[str, YDoc] = {}

    def doc(guid: str) -> YDoc:
        return docs.setdefault(guid, pycrdt.Doc(client_id=1))

    if chunked:
        seed(doc(ROOT), ROOT, doc, text, CHUNK_MAX_BYTES)
        order = chunk_order(docs[ROOT], ROOT)
        lengths = {guid: len(str(docs[guid].get(CONTENT, type=pycrdt.Text))) for guid in order}
    else:
        doc(SINGLE).get(CONTENT, type=pycrdt.Text).insert(0, text)
        lengths = {}
    for side in ("editor", "receiver"):
        for guid, held in docs.items():
            path = log_path(work / side, guid)
            path.parent.mkdir(parents=True, exist_ok=True)
            append_update(path, held.get_update())
    pieces = [
        (p.guid, p.chars, p.size, p.digest.hex())
        for p in (piece_of(g, str(docs[g].get(CONTENT, type=pycrdt.Text)).encode())
                  for g in lengths)
    ]  # fmt: skip
    layout = {"chunked": chunked, "lengths": lengths, "pieces": pieces}
    (work / "layout.json").write_text(json.dumps(layout))
    (work / "file.txt").write_text(text)
    (work / ".p2psync").mkdir()


def make_text(size: int) -> str:
    line = "a line of a large text file, with 中文 and 😀 in it\n"
    return line * max(1, size // len(line.encode()))


def sync_once(work: Path) -> tuple[float, int, int]:
    """One edit and its sync: (seconds, larger memory growth, docs the receiver loaded)."""
    editor = run_in_subprocess("bench.bench_chunks:edit", str(work))
    receiver = run_in_subprocess("bench.bench_chunks:receive", str(work))
    growth = max(run.peak_rss_bytes - run.baseline_rss_bytes for run in (editor, receiver))
    return editor.seconds + receiver.seconds, growth, int(receiver.result)


def edit(work: str) -> int:
    """The editor's side (in a fresh process): returns how many docs it changed."""
    root_dir = Path(work)
    layout = json.loads((root_dir / "layout.json").read_text())
    docs: dict[str, YDoc] = {}
    updates: dict[str, list[bytes]] = {}

    def doc(guid: str) -> YDoc:
        if guid not in docs:
            held: YDoc = pycrdt.Doc()
            path = log_path(root_dir / "editor", guid)
            if path.exists():
                held.apply_update(read_state(path))
            held.observe(lambda event: updates.setdefault(guid, []).append(event.update))
            docs[guid] = held
        return docs[guid]

    if layout["chunked"]:
        lengths: dict[str, int] = layout["lengths"]
        text = ChunkedText(doc(ROOT), ROOT, doc, lengths=lengths)
        text.insert(sum(lengths.values()) - FROM_END_CHARS, EDIT)
    else:
        content = doc(SINGLE).get(CONTENT, type=pycrdt.Text)
        current = str(content)
        at = len(current[: len(current) - FROM_END_CHARS].encode())
        content.insert(at, EDIT)
    wire = {guid: pycrdt.merge_updates(*made).hex() for guid, made in updates.items()}
    (root_dir / "wire.json").write_text(json.dumps(wire))
    return len(wire)


def receive(work: str) -> int:
    """The receiver's side (in a fresh process): returns how many docs it loaded."""
    root_dir = Path(work)
    wire: dict[str, str] = json.loads((root_dir / "wire.json").read_text())
    for guid, update_hex in wire.items():
        update = bytes.fromhex(update_hex)
        opened = DocLog.open(log_path(root_dir / "receiver", guid))
        held: YDoc = pycrdt.Doc()
        for stored in opened.updates:
            held.apply_update(stored)
        held.apply_update(update)
        opened.log.append([update])
        opened.log.close()
    return len(wire)


def chunk_load_growth(work: Path) -> int:
    """Peak RSS growth of loading the last chunk doc alone, in a fresh process."""
    layout = json.loads((work / "layout.json").read_text())
    last = list(layout["lengths"])[-1]
    loaded = run_in_subprocess("bench.bench_chunks:load_one", str(work), last)
    return loaded.peak_rss_bytes - loaded.baseline_rss_bytes


def load_one(work: str, guid: str) -> int:
    held: YDoc = pycrdt.Doc()
    held.apply_update(read_state(log_path(Path(work) / "receiver", guid)))
    return len(str(held.get(CONTENT, type=pycrdt.Text)))


class LogStore:
    """The receiver's docs, each loaded from its log when first asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.docs: dict[str, DocReplica] = {}

    def doc(self, guid: str) -> DocReplica | None:
        if guid not in self.docs:
            self.docs[guid] = DocReplica(guid, read_updates(log_path(self.folder, guid)))
        return self.docs[guid]

    async def local_update(self, guid: str, update: bytes, *, notify: bool = True) -> None:
        raise AssertionError("the receiver's write makes no local change")


def mirror_write(work: str) -> float:
    """The receiver's mirror after the remote change (in a fresh process): returns
    the seconds of the write. The chunked file is patched as ``Mirror._stream_chunked``
    does, with the hash states its previous write left (that write, the same patch
    once, is not timed); the 50 KB file is read, compared and written whole as
    ``Mirror._write_doc`` does."""
    root_dir = Path(work)
    if json.loads((root_dir / "layout.json").read_text())["chunked"]:
        marks = DigestMarks()
        patch_chunked(root_dir, marks)
        start = time.perf_counter()
        patch_chunked(root_dir, marks)
        return time.perf_counter() - start
    start = time.perf_counter()
    store = LogStore(root_dir / "receiver")
    got = read_file(root_dir, "file.txt")
    assert got is not None
    data, old_stat = got
    single = store.doc(SINGLE)
    assert single is not None
    content = single.text(CONTENT).encode()
    if content != data:
        file_digest(content)
        write_file(root_dir, "file.txt", content, executable=False, expect=old_stat)
    return time.perf_counter() - start


def patch_chunked(root_dir: Path, marks: DigestMarks) -> int:
    """The write of ``Mirror._stream_chunked``: the file is as last synced, the layout
    the one the mirror holds, the edited chunk marked changed (its doc loaded from
    its log). Returns the bytes the file holds."""
    layout = json.loads((root_dir / "layout.json").read_text())
    wire: dict[str, str] = json.loads((root_dir / "wire.json").read_text())
    store = LogStore(root_dir / "receiver")
    stat = local_stat(root_dir, "file.txt")
    assert stat is not None
    files = ChunkedFiles(store, Chunking())
    pieces = [Piece(g, c, n, bytes.fromhex(d)) for g, c, n, d in layout["pieces"]]
    files.layouts[ROOT] = Layout(pieces, dirty=set(wire))
    parts = files.plan(ROOT)
    assert parts is not None
    written, _ = write_chunked(root_dir, "file.txt", parts, guid=ROOT, executable=False,
                               expect=stat, marks=marks)  # fmt: skip
    return written.size


def editor_save(work: Path) -> tuple[float, int]:
    """One save of the file with the edit near its end, read by the editor's mirror
    in a fresh process (the file and a copy of the editor's logs are prepared here,
    untimed): (seconds, peak RSS growth)."""
    data = (work / "file.txt").read_bytes()
    tail = data[-FROM_END_CHARS * 4 :].decode(errors="ignore")
    at = len(data) - len(tail[-FROM_END_CHARS:].encode())
    (work / "saved.txt").write_bytes(data[:at] + EDIT.encode() + data[at:])
    shutil.rmtree(work / "editor-save", ignore_errors=True)
    shutil.copytree(work / "editor", work / "editor-save")
    run = run_in_subprocess("bench.bench_chunks:mirror_save", str(work))
    return float(run.result), run.peak_rss_bytes - run.baseline_rss_bytes


class SavingStore(LogStore):
    """The editor's docs, loaded from their logs; local updates appended durably."""

    async def local_update(self, guid: str, update: bytes, *, notify: bool = True) -> None:
        held = self.doc(guid)
        assert held is not None
        held.apply(update)
        append_update(log_path(self.folder, guid), update)


def mirror_save(work: str) -> float:
    """The editor's mirror reading the save (in a fresh process), as
    ``Mirror._scan_save`` does: returns its seconds."""
    root_dir = Path(work)
    layout = json.loads((root_dir / "layout.json").read_text())
    pieces = [Piece(g, c, n, bytes.fromhex(d)) for g, c, n, d in layout["pieces"]]
    files = ChunkedFiles(SavingStore(root_dir / "editor-save"), Chunking())
    files.layouts[ROOT] = Layout(pieces)
    marks = boundary_states(root_dir / "file.txt", pieces)
    start = time.perf_counter()
    scan = scan_save(root_dir, "saved.txt", pieces, marks)
    assert scan is not None
    saved = trio.run(files.save_scanned, ROOT, pieces, (scan.lead, scan.trail), scan.middle)
    seconds = time.perf_counter() - start
    assert saved
    assert scan.lead == len(pieces) - 1
    return seconds


def boundary_states(path: Path, pieces: list[Piece]) -> dict[int, Any]:
    """The SHA-256 states at the chunk boundaries of the file as last synced, which
    the mirror holds since it wrote it (``patch.DigestMarks``); read piece by piece."""
    hasher, at, states = hashlib.sha256(), 0, {}
    with path.open("rb") as file:
        for piece in pieces:
            hasher.update(file.read(piece.size))
            at += piece.size
            states[at] = hasher.copy()
    return states


def read_and_hash(work: str) -> int:
    """The anchor of the editor's save: read the saved file and hash it, once."""
    return len(hashlib.sha256((Path(work) / "saved.txt").read_bytes()).digest())
