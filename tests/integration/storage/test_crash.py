"""Processes killed with SIGKILL mid-append or mid-compaction lose nothing durable."""

from __future__ import annotations

import multiprocessing
import random
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from p2psync.storage import DocLog, read_state, read_updates
from tests.integration.storage import log_worker
from tests.integration.storage.log_worker import append_telling, payload
from tests.support.updates import text_of, text_updates

WORKER = str(Path(__file__).with_name("log_worker.py"))
KILL_ITERATIONS = 200
ENV = {"PYTHONPATH": str(Path(__file__).parents[3])}


def next_ack(acks: Connection) -> str | None:
    """The next line the worker told, or None once it is gone (the pipe ended)."""
    try:
        return acks.recv_bytes().decode()
    except EOFError:
        return None


@pytest.mark.slow
def test_sigkill_during_appends_keeps_every_acknowledged_update(tmp_path: Path) -> None:
    # Each worker is a process of its own, killed with SIGKILL as before, but forked from
    # a server that imported the log once (multiprocessing's forkserver), not a new
    # Python importing it 200 times.
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload([log_worker.__name__])
    rng = random.Random(2026)
    path = tmp_path / "d.log"
    expected: list[bytes] = []
    for iteration in range(KILL_ITERATIONS):
        seed = iteration + 1
        acks, tell = forks.Pipe(duplex=False)
        worker = forks.Process(target=append_telling, args=(path, seed, tell))
        worker.start()
        tell.close()  # the worker's end: the pipe ends when the worker does
        assert next_ack(acks) == "ready"
        acked = 0
        for _ in range(rng.randrange(0, 40)):  # a random number of appends in flight
            line = next_ack(acks)
            if line is None:
                break
            acked = int(line)
        worker.kill()
        worker.join()
        while (line := next_ack(acks)) is not None:  # acknowledgements already in the pipe
            acked = int(line)
        acks.close()
        worker.close()

        stored = read_updates(path) if path.exists() else []
        mine = stored[len(expected) :]
        assert stored[: len(expected)] == expected, f"iteration {iteration} lost older data"
        assert len(mine) >= acked, f"iteration {iteration}: {acked} acked, {len(mine)} stored"
        assert mine == [payload(seed, i) for i in range(len(mine))]
        reopened = DocLog.open(path)  # opens cleanly, possibly cutting a torn tail
        reopened.log.close()
        assert reopened.recovery is None or reopened.recovery.corruption is None
        expected = reopened.updates


@pytest.mark.parametrize("step", ["written", "synced", "replaced", "dir-synced"])
def test_compaction_killed_at_each_step_keeps_the_content(tmp_path: Path, step: str) -> None:
    ups, text = text_updates(300)
    path = tmp_path / "d.log"
    with DocLog.open(path).log as doclog:
        for i in range(0, len(ups), 7):
            doclog.append(ups[i : i + 7])
    result = subprocess.run(
        [sys.executable, WORKER, "compact", str(path), step],
        env=ENV,
        capture_output=True,
        check=False,
    )
    assert result.returncode == -9, result.stderr  # it really died at that step
    reopened = DocLog.open(path)
    reopened.log.close()
    assert reopened.recovery is None
    assert text_of(read_state(path)) == text
    compacted = len(reopened.records) == 1
    assert compacted == (step in ("replaced", "dir-synced"))


def test_two_processes_appending_concurrently_interleave_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    DocLog.open(path).log.close()
    count = 400
    workers = [
        subprocess.Popen(
            [sys.executable, WORKER, "append-count", str(path), str(seed), str(count)], env=ENV
        )
        for seed in (1, 2)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    stored = read_updates(path)
    assert len(stored) == 2 * count
    for seed in (1, 2):
        mine = [u for u in stored if u.startswith(f"{seed}:".encode())]
        assert mine == [payload(seed, i) for i in range(count)]
    reopened = DocLog.open(path)
    reopened.log.close()
    assert reopened.recovery is None
