"""App docs (``.ydoc``) through the file <-> doc engine, against real files: a new
file becomes an app doc, a file written by another program is merged (never
removing), bytes that are no Yjs doc change nothing, a peer's changes are written
back held to one write per gap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pycrdt
import trio
from trio.testing import MockClock

from p2psync.mirror.engine import Mirror, wall_ms
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.ydocfile import WRITE_GAP_S
from p2psync.replica.doc import DocReplica
from tests.support.mirror import make_mirror

YDoc = pycrdt.Doc[Any]


def run(main: Callable[[], Awaitable[None]]) -> None:
    """Trio's clock stands still but for ``gap_passes``: the test says when."""
    trio.run(main, clock=MockClock())


def gap_passes() -> None:
    clock = trio.lowlevel.current_clock()
    assert isinstance(clock, MockClock)
    clock.jump(WRITE_GAP_S)


def board(client_id: int, **cells: Any) -> YDoc:
    doc: YDoc = pycrdt.Doc(client_id=client_id)
    for key, value in cells.items():
        doc.get("cards", type=pycrdt.Map)[key] = value
    return doc


def cards_of(state: bytes) -> dict[str, Any]:
    doc: YDoc = pycrdt.Doc()
    doc.apply_update(state)
    return dict(doc.get("cards", type=pycrdt.Map).to_py() or {})


def peer_sets(doc: DocReplica, key: str, value: Any) -> bytes:
    peer: YDoc = pycrdt.Doc(client_id=777)
    peer.apply_update(doc.full_state())
    before = peer.get_state()
    peer.get("cards", type=pycrdt.Map)[key] = value
    return peer.get_update(before)


async def board_file(root: Path, **cells: Any) -> tuple[Mirror, Path, DocReplica]:
    """A mirror of ``root`` that took in ``board.ydoc`` holding ``cells``: the mirror,
    the file and its doc."""
    mirror, store, _ = make_mirror(root)
    path = root / "board.ydoc"
    path.write_bytes(board(1, **cells).get_update())
    await mirror.local_changes(["board.ydoc"])
    return mirror, path, store.docs[mirror.view.guid_for_path("board.ydoc")]


def test_a_new_ydoc_file_is_an_app_doc_holding_its_update(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        (tmp_path / "board.ydoc").write_bytes(board(1, a=1, b="two").get_update())
        await mirror.local_changes(["board.ydoc"])
        entry = mirror.view.by_path["board.ydoc"]
        assert entry.kind is FileKind.YDOC
        doc = store.docs[entry.guid]
        assert cards_of(doc.full_state()) == {"a": 1, "b": "two"}
        assert (tmp_path / "board.ydoc").read_bytes() == doc.full_state()

    run(main)


def test_a_file_written_by_another_program_is_merged_never_removing(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, path, doc = await board_file(tmp_path, a=1)
        backup = path.read_bytes()
        doc.apply(peer_sets(doc, "b", 2))
        await mirror.remote_changed({doc.guid: "bob"})
        assert cards_of(path.read_bytes()) == {"a": 1, "b": 2}

        path.write_bytes(backup)  # restored from a backup that lacks "b"
        await mirror.local_changes(["board.ydoc"])
        assert cards_of(doc.full_state()) == {"a": 1, "b": 2}

        path.write_bytes(board(3, c=3).get_update())  # another device's doc copied in
        await mirror.local_changes(["board.ydoc"])
        assert cards_of(doc.full_state()) == {"a": 1, "b": 2, "c": 3}
        gap_passes()  # the write held back is due
        await mirror.flush()
        assert cards_of(path.read_bytes()) == {"a": 1, "b": 2, "c": 3}
        assert mirror.problems.listing() == []

    run(main)


def test_a_new_file_that_is_no_yjs_doc_is_reported_and_makes_no_entry(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, store, events = make_mirror(tmp_path)
        (tmp_path / "junk.ydoc").write_bytes(b"this is not a Yjs update\n")
        await mirror.local_changes(["junk.ydoc"])
        assert "junk.ydoc" not in mirror.view.by_path
        assert list(store.docs) == []
        [listed] = mirror.problems.listing()
        assert listed["path"] == "junk.ydoc"
        assert "not a Yjs doc" in listed["reason"]
        assert [e[0] for e in events] == ["file-skipped"]
        assert (tmp_path / "junk.ydoc").read_bytes() == b"this is not a Yjs update\n"

    run(main)


def test_garbage_over_an_app_doc_changes_nothing_until_it_is_fixed(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, path, doc = await board_file(tmp_path, a=1)
        state = doc.full_state()

        path.write_bytes(b"\xff" * 40)
        await mirror.local_changes(["board.ydoc"])
        assert doc.full_state() == state
        assert path.read_bytes() == b"\xff" * 40  # left as it is, reported
        assert [p["path"] for p in mirror.problems.listing()] == ["board.ydoc"]
        doc.apply(peer_sets(doc, "b", 2))  # a peer's change is not written over it
        await mirror.remote_changed({doc.guid: "bob"})
        assert path.read_bytes() == b"\xff" * 40

        path.write_bytes(state)  # put back
        await mirror.local_changes(["board.ydoc"])
        assert mirror.problems.listing() == []
        assert cards_of(path.read_bytes()) == {"a": 1, "b": 2}

    run(main)


def test_a_peers_changes_are_written_at_most_once_per_gap(tmp_path: Path) -> None:
    async def main() -> None:
        mirror, path, doc = await board_file(tmp_path, a=0)
        doc.apply(peer_sets(doc, "a", 1))
        await mirror.remote_changed({doc.guid: "bob"})
        assert cards_of(path.read_bytes())["a"] == 1  # the first change: at once
        doc.apply(peer_sets(doc, "a", 2))
        await mirror.remote_changed({doc.guid: "bob"})
        assert cards_of(path.read_bytes())["a"] == 1  # within the gap: held back
        assert mirror.saves.ydocs.next_due() is not None  # the owner wakes the mirror then
        await mirror.flush()
        assert cards_of(path.read_bytes())["a"] == 1
        gap_passes()
        await mirror.flush()
        assert cards_of(path.read_bytes())["a"] == 2
        assert mirror.saves.ydocs.next_due() is None

    run(main)


def test_a_backup_restored_while_the_daemon_was_down_is_merged_at_the_start(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        mirror, path, doc = await board_file(tmp_path, a=1)
        backup = path.read_bytes()
        doc.apply(peer_sets(doc, "b", 2))
        await mirror.remote_changed({doc.guid: "bob"})
        await mirror.flush()
        assert cards_of(path.read_bytes()) == {"a": 1, "b": 2}

        path.write_bytes(backup)  # while no daemon ran
        clock = HybridClock(b"device", wall_ms)
        again = Mirror(tmp_path, mirror.store, clock, lambda *a, **f: None)
        await again.rescan()
        await again.flush()
        assert again.view.by_path["board.ydoc"].guid == doc.guid  # the same doc, no new entry
        assert cards_of(doc.full_state()) == {"a": 1, "b": 2}
        assert cards_of(path.read_bytes()) == {"a": 1, "b": 2}

    run(main)
