"""``p2psync compact [SHARE]``: compact doc logs now instead of when they grow.

Each log is rewritten as one snapshot record plus whatever is appended meanwhile
(docs/storage.md). With a running daemon the daemon does it (it holds the docs);
without one the logs are compacted here, one after another, with progress shown.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pycrdt

from p2psync.cli import table
from p2psync.cli.context import Context, print_json
from p2psync.cli.progress import Progress
from p2psync.config import ShareConfig
from p2psync.errors import UsageError
from p2psync.ids import ShareId
from p2psync.mirror import binary
from p2psync.mirror.chunked import CONTENT
from p2psync.storage import DocLog
from p2psync.storage.compaction import build_snapshot
from p2psync.storage.history import DocHistory, commit_compaction
from p2psync.storage.layout import docs_dir
from p2psync.storage.retention import RetentionPolicy
from p2psync.storage.versionindex import versions_path

if TYPE_CHECKING:
    from p2psync.control.replies import CompactReply


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("compact", help="compact doc logs now")
    parser.add_argument("share", nargs="?", help="only this share (default: every share)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    params = {"share": str(ShareId.parse(args.share))} if args.share else {}
    client = ctx.client(timeout_s=None)  # compacting a large share takes a while
    if client is not None:
        with client:
            reply: CompactReply = client.call("compact", **params)
            compacted = reply["compacted"]
    else:
        compacted = _compact_here(_shares(ctx, params.get("share")), enabled=not args.json)
    if args.json:
        print_json({"compacted": compacted})
    else:
        rows = [[share, str(count)] for share, count in compacted.items()]
        print(table.render(["SHARE", "LOGS COMPACTED"], rows, right=[1]))
    return 0


def _shares(ctx: Context, share: str | None) -> list[ShareConfig]:
    shares = ctx.config().shares
    if share is None:
        return list(shares)
    chosen = [s for s in shares if str(s.id) == share]
    if not chosen:
        raise UsageError(f"this device has no share {share}")
    return chosen


def _compact_here(shares: list[ShareConfig], *, enabled: bool) -> dict[str, int]:
    """Compact every log of ``shares`` in this process (no daemon runs)."""
    logs = [(s, path) for s in shares for path in sorted(docs_dir(s.path).glob("*.ylog"))]
    compacted = {str(s.id): 0 for s in shares}
    progress = Progress(enabled=enabled)
    try:
        for index, (share, path) in enumerate(logs):
            progress.update(100.0 * index / len(logs), f"compacting {path.name}")
            setting = share.history
            policy = RetentionPolicy(setting.keep, setting.max_age_days, setting.max_bytes)
            compact_log(path, policy)
            compacted[str(share.id)] += 1
    finally:
        progress.close()
    return compacted


def compact_log(path: Path, policy: RetentionPolicy | None = None) -> None:
    """Rewrite one log as a snapshot (repairing a torn tail first, as opening does),
    keeping the versions of its file history that ``policy`` keeps (docs/history.md).
    Raises StorageError if the log is damaged or cannot be written."""
    history = None
    if versions_path(path).exists():
        history = DocHistory(path, CONTENT, policy or RetentionPolicy())
    with DocLog.open(path, create=False).log as doclog:
        snapshot = build_snapshot(path, doclog.end)
        if history is not None:
            history.binary = holds_binary(snapshot)
        commit_compaction(doclog, doclog.end, snapshot, history)


def holds_binary(state: bytes) -> bool:
    """Whether the doc whose state is ``state`` is a binary file's (its past versions
    are then held to ``max_bytes``)."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(state)
    return binary.VERSIONS in doc.keys() and binary.current(doc) is not None  # noqa: SIM118
