"""What the case-insensitive checks cost the mirror: the same batches with the rules
of a case-insensitive folder and of a case-sensitive one.

Both run on a case-sensitive folder (tmpfs) with the rules injected, so the
figures are the engine's extra work (folder listings, spelling maps, collision keys)
and not a FUSE mount's; the behaviour itself is tested on a real case-insensitive
folder (tests/integration/mirror/test_casefold.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path

import trio

from bench.harness import BenchContext, Metric, timed
from p2psync.mirror.engine import Mirror
from p2psync.mirror.names import NameRules
from p2psync.storage.layout import marker_dir
from tests.support.mirror import make_mirror

GROUP = "Plain files in a shared folder (issue 4)"
FILES = 5_000
FOLDERS = 10
RESCANS = 5
ROUNDS = 3
FOLDING = NameRules(fold_case=True, fold_unicode=True)
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
"""tmpfs where there is one: the shared disk's noise (an unlink took 1 ms) would drown
the difference measured here, which is CPU work."""


def run(ctx: BenchContext) -> None:
    count = 500 if ctx.quick else FILES
    best: dict[NameRules, tuple[float, ...]] = {}
    for _ in range(ROUNDS):  # alternated, so neither side gets only the warm or cold runs
        for rules in (NameRules(), FOLDING):
            times = _batches(count, rules)
            best[rules] = tuple(map(min, zip(best.get(rules, times), times, strict=True)))
    plain, folding = best[NameRules()], best[FOLDING]
    ctx.report(Metric(
        GROUP, f"case-insensitive rules: first batch of {count:,} new files", folding[0], "s",
        "the same batch with case-sensitive rules", plain[0], target_ratio=1.5,
        note=f"{count:,} small text files in {FOLDERS} folders taken in by one "
             f"`local_changes` (entries, docs, state), on tmpfs with the rules injected; best "
             f"of {ROUNDS} rounds, the two rules alternating",
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, f"case-insensitive rules: rescan of {count:,} unchanged files", folding[1], "s",
        "the same rescan with case-sensitive rules", plain[1], target_ratio=1.5,
        note=f"best of {RESCANS} rescans of the synced folder (walk, manifest refresh, "
             "spelling map)",
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, f"case-insensitive rules: {count:,} files from a peer written", folding[2], "s",
        "the same writes with case-sensitive rules", plain[2], target_ratio=1.5,
        note="the docs and manifest of the first batch handed to a mirror of an empty "
             "folder as one remote change (each file re-read, then written atomically)",
    ))  # fmt: skip


def _batches(count: int, names: NameRules) -> tuple[float, float, float]:
    """Seconds of the first batch of ``count`` new files, of the best rescan, and of
    writing those files from their docs into an empty folder."""
    with tempfile.TemporaryDirectory(prefix="p2psync-bench-casefold-", dir=SCRATCH) as tmp:
        root = Path(tmp) / "here"
        mirror, store, _ = make_mirror(root)
        mirror.names = names
        rels = [f"folder{i % FOLDERS}/File-{i:05}.md" for i in range(count)]
        for rel in rels:
            (root / rel).parent.mkdir(exist_ok=True)
            (root / rel).write_text(f"file {rel}\n")
        first = timed(lambda: _run(mirror, lambda: mirror.local_changes(rels)))
        rescan = min(timed(lambda: _run(mirror, mirror.rescan)) for _ in range(RESCANS))
        peer = Mirror(Path(tmp) / "peer", store, mirror.clock, mirror.publish, names=names)
        marker_dir(peer.root).mkdir(parents=True)
        changes: dict[str, Hashable | None] = dict.fromkeys(store.docs, "peer")
        written = timed(lambda: _run(peer, lambda: peer.remote_changed(changes)))
        assert len(list(peer.root.glob("folder*/*.md"))) == count
        return first, rescan, written


def _run(mirror: Mirror, step: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        await step()
        await mirror.flush()

    trio.run(main)
