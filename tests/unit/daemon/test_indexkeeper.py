"""The persisted index across runs of a share: an orderly stop keeps the index ID, a
crash (the run marker left behind) or a damaged file changes it, and a rebuilt index
reads every log without keeping a doc loaded; an index slow to write is written less
often."""

from __future__ import annotations

from pathlib import Path

import pycrdt
import pytest

from p2psync.daemon.indexkeeper import SAVE_INTERVAL_S, SAVE_SHARE, IndexKeeper, save_wait_s
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync
from p2psync.storage import append_update
from p2psync.storage.indexstore import index_path
from p2psync.storage.layout import docs_dir, log_path

SHARE = b"s" * 16


def seed(root: Path, count: int) -> None:
    docs_dir(root).mkdir(parents=True)
    for i in range(count):
        doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=100 + i)
        doc.get("content", type=pycrdt.Text).insert(0, f"doc {i}")
        append_update(log_path(root, f"d{i}"), doc.get_update())


async def run_once(root: Path, *, stop_in_order: bool) -> tuple[ShareSync, IndexKeeper, int]:
    """One run's start (and stop): the engine, the keeper and how many logs it read."""
    sync = ShareSync(ShareReplica(SHARE))
    keeper = IndexKeeper(root, sync, "test")
    plan = await keeper.start(lambda key: key)
    await keeper.reread(plan.reread)
    if stop_in_order:
        await keeper.save(clean=True)
    return sync, keeper, len(plan.reread)


async def test_orderly_stops_keep_the_index_and_a_crash_changes_its_id(tmp_path: Path) -> None:
    seed(tmp_path, 5)
    first, _, read = await run_once(tmp_path, stop_in_order=True)
    assert read == 5
    assert not first.replica.loaded()
    second, _, read = await run_once(tmp_path, stop_in_order=False)  # then it crashes
    assert read == 0
    assert second.replica.index_id == first.replica.index_id
    assert second.replica.version("d3") == first.replica.version("d3")
    third, _, read = await run_once(tmp_path, stop_in_order=True)
    assert read == 0  # the doc records are still good
    assert third.replica.index_id != first.replica.index_id
    assert third.replica.max_sequence >= first.replica.max_sequence


async def test_a_changed_log_is_read_again_and_counts_as_changed(tmp_path: Path) -> None:
    seed(tmp_path, 3)
    first, _, _ = await run_once(tmp_path, stop_in_order=True)
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=999)
    doc.get("content", type=pycrdt.Text).insert(0, "more")
    append_update(log_path(tmp_path, "d1"), doc.get_update())
    second, _, read = await run_once(tmp_path, stop_in_order=True)
    assert read == 1
    assert second.replica.sequence_of("d1") > first.replica.max_sequence
    assert second.replica.sequence_of("d0") == first.replica.sequence_of("d0")


async def test_a_damaged_index_is_rebuilt_from_the_logs(tmp_path: Path) -> None:
    seed(tmp_path, 4)
    first, _, _ = await run_once(tmp_path, stop_in_order=True)
    path = index_path(tmp_path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    second, keeper, read = await run_once(tmp_path, stop_in_order=True)
    assert keeper.rebuilt
    assert read == 4
    assert second.replica.index_id != first.replica.index_id
    assert {g: second.replica.version(g) for g in second.replica.guids()} == {
        g: first.replica.version(g) for g in first.replica.guids()
    }


async def test_a_log_unchanged_since_its_record_needs_no_load(tmp_path: Path) -> None:
    seed(tmp_path, 2)
    _, keeper, _ = await run_once(tmp_path, stop_in_order=True)
    path = log_path(tmp_path, "d1")
    assert keeper.log_unchanged("d1", path)  # what the daemon's own last append left
    assert not keeper.log_unchanged("unknown", log_path(tmp_path, "unknown"))
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=999)
    doc.get("content", type=pycrdt.Text).insert(0, "another program's append")
    append_update(path, doc.get_update())
    assert not keeper.log_unchanged("d1", path)
    path.unlink()
    assert not keeper.log_unchanged("d1", path)


def test_an_index_slow_to_write_is_written_less_often() -> None:
    # A small share's index is written every SAVE_INTERVAL_S while it changes; one
    # that takes long to write (10,000 docs during a first sync) waits long enough
    # that writing it takes at most SAVE_SHARE of the time.
    assert save_wait_s(0.001) == SAVE_INTERVAL_S
    assert save_wait_s(0.3) == pytest.approx(0.3 / SAVE_SHARE)
    assert 0.3 / save_wait_s(0.3) <= SAVE_SHARE
