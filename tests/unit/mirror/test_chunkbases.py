"""A chunked file's layout in its sync record: round trip, damage, and the blobs of
chunk bases removed once no record names them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from p2psync.mirror.chunkbases import BASES_DIR, BaseBlobs, decode_layout, encode_layout
from p2psync.mirror.chunkfile import Piece
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.records import Synced
from p2psync.mirror.state import SyncTable
from p2psync.storage.layout import marker_dir


def piece(guid: str, text: str, base: bytes) -> Piece:
    data = text.encode()
    return Piece(guid, len(text), len(data), hashlib.sha256(data).digest(), base)


def blob_names(root: Path) -> set[str]:
    folder = marker_dir(root) / BASES_DIR
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


STAT = FileStat(10, 1, 2, 0o644)


def test_a_layout_reads_back_with_its_bases(tmp_path: Path) -> None:
    blobs = BaseBlobs(tmp_path)
    pieces = [piece("root", "héllo ", b""), piece("c1", "wörld\n", b"state one")]
    decoded = decode_layout(encode_layout(pieces, blobs), blobs)
    assert decoded == pieces
    assert decoded is not None
    assert [p.base for p in decoded] == [b"", b"state one"]


def test_a_missing_or_damaged_blob_or_a_plain_base_gives_no_layout(tmp_path: Path) -> None:
    blobs = BaseBlobs(tmp_path)
    base = encode_layout([piece("c1", "text\n", b"state")], blobs)
    path = marker_dir(tmp_path) / BASES_DIR / key(b"state")
    path.write_bytes(b"stale")
    assert decode_layout(base, blobs) is None
    path.unlink()
    assert decode_layout(base, blobs) is None
    assert decode_layout(b"a one-doc Yjs state", blobs) is None
    assert decode_layout(base[:12], blobs) is None


def test_blobs_go_when_no_record_names_them(tmp_path: Path) -> None:
    table = SyncTable(tmp_path)
    first = encode_layout([piece("a", "x\n", b"A1"), piece("b", "y\n", b"B")], table.blobs)
    table.put("big.txt", Synced("g", b"d1", STAT), first)
    copy = encode_layout([piece("b", "y\n", b"B")], table.blobs)
    table.put("copy.txt", Synced("h", b"d2", STAT), copy)
    assert blob_names(tmp_path) == {key(b"A1"), key(b"B")}
    # A save changed chunk a: its old base goes, b's stays.
    second = encode_layout([piece("a", "z\n", b"A2"), piece("b", "y\n", b"B")], table.blobs)
    table.put("big.txt", Synced("g", b"d3", STAT), second)
    assert blob_names(tmp_path) == {key(b"A2"), key(b"B")}
    table.pop("big.txt")
    assert blob_names(tmp_path) == {key(b"B")}  # copy.txt still names it
    table.move("copy.txt", "moved.txt", None)
    assert blob_names(tmp_path) == {key(b"B")}
    table.pop("moved.txt")
    assert blob_names(tmp_path) == set()


def test_a_write_ahead_record_keeps_its_blobs_until_aborted(tmp_path: Path) -> None:
    table = SyncTable(tmp_path)
    table.put(
        "big.txt", Synced("g", b"d1", STAT), encode_layout([piece("a", "x", b"A1")], table.blobs)
    )
    ahead = encode_layout([piece("a", "y", b"A2")], table.blobs)
    table.prepare("big.txt", Synced("g", b"d2", None), ahead)
    assert blob_names(tmp_path) == {key(b"A1"), key(b"A2")}
    table.abort("big.txt")
    assert blob_names(tmp_path) == {key(b"A1")}
    ahead = encode_layout([piece("a", "y", b"A2")], table.blobs)  # as each write does
    table.prepare("big.txt", Synced("g", b"d2", None), ahead)
    table.commit("big.txt")
    assert blob_names(tmp_path) == {key(b"A2")}


def test_a_restart_keeps_named_blobs_and_removes_the_rest(tmp_path: Path) -> None:
    table = SyncTable(tmp_path)
    table.put(
        "big.txt", Synced("g", b"d1", STAT), encode_layout([piece("a", "x", b"A")], table.blobs)
    )
    table.blobs.put(b"written before a crash cut off its record")
    (marker_dir(tmp_path) / BASES_DIR / "torn.tmp").write_bytes(b"half")
    reloaded = SyncTable(tmp_path)
    assert blob_names(tmp_path) == {key(b"A")}
    layout = decode_layout(reloaded.base("big.txt"), reloaded.blobs)
    assert layout is not None
    assert layout[0].base == b"A"
