"""``p2psync doctor [PATH] [--repair]``: verify every doc log and report damage.

Works without a daemon. By default it only reads: each log is decoded record by
record (header, CRCs, record types) and its updates are loaded into a document, so
damage that opening the log would repair, and updates that cannot be loaded, are both
found. ``--repair`` opens each damaged log the way the daemon does: an interrupted
append is cut off, and a log with a bad record is first copied whole into
``.quarantine/`` beside it and then keeps the records before the damage. Nothing is
deleted, with one exception: a *leftover*, an empty log (its header and no record) of
a doc that no manifest entry names, is removed (it holds nothing, but the share would
count the doc forever and never reach 100 %). A log holding updates of a doc that no
manifest entry names is reported as *unnamed* and kept: a kill between a new file's
first append and its manifest entry leaves one (the file is taken in again as a new
doc at the next start), and a peer's new doc is unnamed until its entry arrives. It is
no damage. Each log's history file (``<log>.versions``, docs/history.md), if it has
one, is decoded too: a damaged one (``corrupt``) means the file's past versions cannot
be read, while its content, in the log, is safe; ``--repair`` moves it to
``.quarantine/`` beside it, and the file's history starts again at its next change.
Exit status 1 when damage remains.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from p2psync.cli import table
from p2psync.cli.context import Context, print_json
from p2psync.cli.progress import Progress
from p2psync.errors import MalformedYjsError, StorageError, UsageError
from p2psync.mirror.leftovers import manifest_names, may_be_leftover
from p2psync.mirror.manifest import FILE_GUID_PREFIX
from p2psync.protocol.yjs import decode_state_vector
from p2psync.protocol.yjs_update import scan_update
from p2psync.storage import DocLog
from p2psync.storage import format as fmt
from p2psync.storage.compaction import replay
from p2psync.storage.layout import (
    DOCS_DIR_NAME,
    MARKER_DIR_NAME,
    docs_dir,
    guid_of_log,
)
from p2psync.storage.logrepair import QUARANTINE_DIR_NAME
from p2psync.storage.versionindex import decode_index, is_newer_format, versions_path


@dataclass
class LogReport:
    """What ``doctor`` found in one log file (or in its history file: ``check_history``)."""

    path: str
    doc: str
    bytes: int
    records: int
    state: str  # ok, torn, corrupt, unsupported, unloadable, pending, unreadable, leftover,
    # unnamed
    offset: int | None = None
    reason: str = ""
    repaired: bool = False


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("doctor", help="verify every doc log and report damage")
    parser.add_argument("path", nargs="?", help="a share folder or one .ylog file (default: all)")
    parser.add_argument("--repair", action="store_true", help="repair damaged logs (keeps copies)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    logs = _logs_to_check(ctx, args.path)
    progress = Progress(enabled=not args.json)
    reports = []
    named = ManifestNames()
    daemon_runs = False
    if args.repair and logs:
        client = ctx.client()
        if client is not None:
            client.close()
            daemon_runs = True
    histories = []
    try:
        for index, path in enumerate(logs):
            progress.update(100.0 * index / len(logs), f"checking {path.name}")
            report = check_log(path)
            if report.state == "ok" and is_unnamed(path, report, named):
                name_unnamed(report)
            if args.repair and report.state == "leftover":
                report = remove_leftover(path, report, daemon_runs=daemon_runs)
            elif args.repair and report.state not in ("ok", "pending"):
                report = repair_log(path, report)
            reports.append(report)
            history = check_history(path)
            if history is not None and args.repair:
                history = repair_history(history)
            if history is not None:
                histories.append(history)
    finally:
        progress.close()
    damaged = sum(1 for r in [*reports, *histories] if r.state not in HEALTHY and not r.repaired)
    if args.json:
        print_json({"logs": [asdict(r) for r in reports], "damaged": damaged,
                    "histories": [asdict(r) for r in histories]})  # fmt: skip
    else:
        print(_format(reports, histories, damaged))
    return 1 if damaged else 0


def _logs_to_check(ctx: Context, path: str | None) -> list[Path]:
    if path is None:
        roots = [share.path for share in ctx.config().shares]
    else:
        target = Path(path).expanduser().resolve()
        if target.is_file() and target.suffix == ".ylog":
            return [target]
        if not target.is_dir():
            raise UsageError(f"{path} is neither a share folder nor a .ylog file")
        roots = [target]
    return [log for root in roots for log in sorted(docs_dir(root).glob("*.ylog"))]


def check_log(path: Path) -> LogReport:
    """Verify one log without changing it."""
    doc = guid_of_log(path) or path.name
    try:
        data = _read_locked(path)
    except OSError as exc:
        return LogReport(str(path), doc, 0, 0, "unreadable", reason=exc.strerror or str(exc))
    scan = fmt.scan_log(data)
    report = LogReport(str(path), doc, len(data), len(scan.records), "ok")
    if scan.stop is not None:
        report.state = scan.stop.damage.value
        report.offset, report.reason = scan.stop.offset, scan.stop.reason
        return report
    updates = [u for record in scan.records for u in record.updates]
    try:
        loaded = replay(updates)
    except ValueError as exc:
        report.state, report.reason = "unloadable", str(exc)
        return report
    waiting = pending_clients(updates, decode_state_vector(loaded.get_state()))
    if waiting:
        report.state = "pending"
        report.reason = (
            f"changes of {waiting} client(s) wait for changes this log lacks;"
            " they show nowhere until a peer sends those"
        )
    return report


HISTORY_DAMAGED = "the file's past versions cannot be read (its content is safe, in its log): "
HISTORY_REPAIR = (
    "; --repair moves this history file to .quarantine/ and the file's history starts "
    "again at its next change"
)


def check_history(log: Path) -> LogReport | None:
    """Verify the history file beside ``log`` (its timeline), without changing it;
    None if it has none. Its ``records`` are its versions. A damaged one is
    ``corrupt``; one of a newer p2psync ``unsupported`` (never repaired)."""
    path = versions_path(log)
    doc = guid_of_log(log) or log.name
    try:
        data = path.read_bytes()  # replaced whole (rename), never appended to
    except FileNotFoundError:
        return None
    except OSError as exc:
        return LogReport(str(path), doc, 0, 0, "unreadable", reason=exc.strerror or str(exc))
    report = LogReport(str(path), doc, len(data), 0, "ok")
    if not data:  # a first write a crash cut off: read as none, replaced at the next save
        return report
    try:
        report.records = len(decode_index(data, path)[0])
    except StorageError as exc:
        problem = str(exc).removeprefix(f"{path}: ")
        if is_newer_format(data):
            report.state, report.reason = "unsupported", f"{problem} (a newer p2psync's)"
        else:
            report.state, report.reason = "corrupt", HISTORY_DAMAGED + problem + HISTORY_REPAIR
    return report


def repair_history(report: LogReport) -> LogReport:
    """Move a damaged history file to ``.quarantine/`` beside it: the daemon then
    reads none, and records the file's versions again from its next change."""
    if report.state != "corrupt":
        return report
    path = Path(report.path)
    kept = path.parent / QUARANTINE_DIR_NAME / f"{path.name}.{time.time_ns()}.corrupt"
    try:
        kept.parent.mkdir(exist_ok=True)
        path.rename(kept)
    except OSError as exc:
        report.reason += f"; repair failed: {exc.strerror or exc}"
        return report
    report.repaired = True
    report.reason = f"moved to {kept}: " + report.reason.removesuffix(HISTORY_REPAIR)
    return report


def pending_clients(updates: list[bytes], state: dict[int, int]) -> int:
    """How many clients have changes among ``updates`` that a doc at ``state`` (the
    updates replayed) does not hold: the CRDT engine keeps them pending, because they
    build on changes no update here holds (an update made on another doc's copy, or
    a log missing its start). Pending changes are in no file and in no state vector."""
    held: dict[int, int] = {}
    for update in updates:
        try:
            scan_update(update).advance(held)
        except MalformedYjsError:
            continue  # replay already loaded it: a shape this scan does not read
    return sum(1 for client, end in held.items() if state.get(client, 0) < end)


class ManifestNames:
    """The docs each share's manifest names, read once per share."""

    def __init__(self) -> None:
        self._names: dict[Path, set[str] | None] = {}

    def of(self, docs: Path) -> set[str] | None:
        """The guids the manifest of the share whose log directory is ``docs`` names
        (the manifest's own included), or None if that cannot be told (not a share's
        log directory, or its manifest cannot be read): then nothing is a leftover."""
        if docs not in self._names:
            is_share = docs.name == DOCS_DIR_NAME and docs.parent.name == MARKER_DIR_NAME
            self._names[docs] = manifest_names(docs.parent.parent) if is_share else None
        return self._names[docs]


HEALTHY = ("ok", "unnamed")
"""The states that are no damage."""


def is_unnamed(path: Path, report: LogReport, named: ManifestNames) -> bool:
    """Whether a healthy log is of a doc that is neither the manifest, nor named by a
    manifest entry, nor a chunk of a large file (chunks are named by their file's doc,
    not by the manifest)."""
    if not may_be_leftover(report.doc):
        return False
    names = named.of(path.parent)
    return names is not None and report.doc not in names


def name_unnamed(report: LogReport) -> None:
    """Set the state of an unnamed doc's log: a leftover if it holds nothing; unnamed
    if it is a new file's doc (a random guid). A doc named by a share path (written by
    ``doc apply`` or a program) is taken into the manifest by the running daemon."""
    if not report.records and report.bytes == fmt.FILE_HEADER_BYTES:
        report.state = "leftover"
        report.reason = "an empty log of a doc no manifest entry names"
    elif report.doc.startswith(FILE_GUID_PREFIX):
        report.state = "unnamed"
        report.reason = (
            "a doc no manifest entry names, kept: left by a stop while a new file was"
            " taken in (the file was taken in again), or its entry has not arrived yet"
        )


def remove_leftover(path: Path, report: LogReport, *, daemon_runs: bool) -> LogReport:
    """Delete a leftover log, unless a daemon runs: it may hold the doc open, and would
    write the log again from memory."""
    if daemon_runs:
        report.reason += "; stop the daemon to remove it"
        return report
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        report.reason += f"; cannot remove it: {exc.strerror or exc}"
        return report
    report.repaired = True
    report.reason = "removed: " + report.reason
    return report


def _read_locked(path: Path) -> bytes:
    """The file's bytes under a shared lock, so no append is caught half-written."""
    with path.open("rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        return f.read()


def repair_log(path: Path, report: LogReport) -> LogReport:
    """Open a damaged log as the daemon would (cut a torn tail, quarantine damage),
    then check it again. Logs that cannot be repaired that way are left as they are."""
    if report.state not in ("torn", "corrupt"):
        return report
    try:
        DocLog.open(path, create=False).log.close()
    except (StorageError, OSError) as exc:
        report.reason = f"{report.reason}; repair failed: {exc}"
        return report
    after = check_log(path)
    after.repaired = after.state == "ok"
    after.reason = f"was {report.state} at offset {report.offset}: {report.reason}"
    return after


def _format(reports: list[LogReport], histories: list[LogReport], damaged: int) -> str:
    if not reports:
        return "no logs to check"
    rows = [
        [os.path.relpath(r.path), r.doc, str(r.records), _state_words(r), r.reason or ""]
        for r in [*reports, *histories]
        if r.state != "ok" or r.repaired
    ]
    with_histories = f" (and {len(histories)} history files)" if histories else ""
    summary = f"{len(reports)} logs checked{with_histories}, {damaged} damaged"
    if not rows:
        return f"{summary}: all healthy"
    return table.render(["LOG", "DOC", "RECORDS", "STATE", "DETAIL"], rows, right=[2]) + (
        f"\n\n{summary}" + ("; run 'p2psync doctor --repair' to repair" if damaged else "")
    )


def _state_words(report: LogReport) -> str:
    if report.repaired:
        if report.state == "corrupt":  # a history file moved aside (``repair_history``)
            return "quarantined"
        return "removed" if report.state == "leftover" else "repaired"
    if report.offset is not None:
        return f"{report.state} at offset {report.offset}"
    return report.state
