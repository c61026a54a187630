"""``p2psync doc export FILE``, ``p2psync doc apply FILE UPDATE`` and ``p2psync doc url
FILE`` (where a local Yjs app connects to edit a text file live, docs/apps.md).

A file inside a share names a doc: the manifest's entry for its path relative to the
share, or (no entry yet) the doc named by that path, which the daemon adopts into the
manifest. With a running daemon the change goes through it; without one, ``apply``
appends to the doc's log directly (the daemon picks it up when it starts) and
``export`` reads the log. A chunked file (a large text file) exports as one text doc
holding its text, and refuses ``apply`` (``mirror.chunkexport``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pycrdt

from p2psync.cli.context import Context, print_json
from p2psync.cli.kept import refuse_kept
from p2psync.config import ShareConfig
from p2psync.errors import ChunkedDocError, StorageError, UpdateError, UsageError
from p2psync.mirror.applycheck import apply_refusal
from p2psync.mirror.chunked import CONTENT
from p2psync.mirror.chunkexport import chunked_export, refuse_apply
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID, ManifestView, read_entries
from p2psync.replica.doc import check_local_update
from p2psync.storage import append_update, read_state
from p2psync.storage.compaction import replay
from p2psync.storage.fileops import atomic_writer
from p2psync.storage.layout import MAX_GUID_BYTES, InvalidGuidError, log_path, path_in_share


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doc = commands.add_parser("doc", help="read or change a document as Yjs updates")
    sub = doc.add_subparsers(dest="doc_command", required=True)
    export = sub.add_parser("export", help="write a doc as one Yjs v1 update")
    export.add_argument("file")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(func=run_export)
    apply = sub.add_parser("apply", help="apply a Yjs v1 update to a doc as a local change")
    apply.add_argument("file")
    apply.add_argument("update", help="file holding the update ('-' for standard input)")
    apply.set_defaults(func=run_apply)
    url = sub.add_parser("url", help="where a local Yjs app connects to edit a text file live")
    url.add_argument("file")
    url.add_argument("--json", action="store_true", help="server, room, params and url as JSON")
    url.set_defaults(func=run_url)


def _locate(ctx: Context, file: str) -> tuple[ShareConfig, str]:
    given = Path(file).expanduser()
    if given.is_symlink():  # resolved, it would name its target, or no share at all
        raise UsageError(f"{file} is a symlink: p2psync neither follows nor syncs symlinks")
    path = given.resolve()
    for share in ctx.config().shares:
        if path.is_relative_to(share.path.resolve()):
            return share, path_in_share(share.path, path)
    raise UsageError(f"{file} is not inside a shared folder")


def _offline_guid(share: ShareConfig, rel: str) -> tuple[str, FileKind | None]:
    """The doc of share path ``rel`` as the manifest log says (no daemon running), and
    the kind of its file (None if the manifest has no entry for it)."""
    try:
        manifest = replay([read_state(log_path(share.path, MANIFEST_GUID))])
    except FileNotFoundError:
        return rel, None
    except StorageError as exc:
        raise UsageError(f"cannot read the manifest of share {share.id}: {exc}") from None
    entries, _ = read_entries(manifest)
    guid = ManifestView.of(entries).guid_for_path(rel)
    entry = entries.get(guid)
    return guid, entry.kind if entry is not None else None


def _offline_chunked_export(share: ShareConfig, root_guid: str, state: bytes) -> bytes:
    """The export of the chunked file ``root_guid``, whose log holds ``state``."""

    def chunk_text(guid: str) -> str:
        try:
            chunk = replay([read_state(log_path(share.path, guid))])
        except FileNotFoundError:
            return ""
        return str(chunk.get(CONTENT, type=pycrdt.Text))

    return chunked_export(replay([state]), root_guid, chunk_text)


def run_apply(args: argparse.Namespace, ctx: Context) -> int:
    share, guid = _locate(ctx, args.file)
    if len(guid.encode()) > MAX_GUID_BYTES and not Path(args.file).exists():
        raise UsageError(
            f"{args.file} does not exist, and the doc of a file made by an update is named "
            f"by its path, which is over {MAX_GUID_BYTES} bytes: create the file, then "
            "apply the update"
        )
    try:
        update = sys.stdin.buffer.read() if args.update == "-" else Path(args.update).read_bytes()
    except OSError as exc:  # a file that cannot be read: exit 4, as docs/reference says
        raise StorageError(Path(args.update), f"cannot read it: {exc.strerror}") from None
    # Checked here, before the daemon or the log sees it: a refused update is a bad
    # argument (exit 2) and leaves nothing on disk, daemon or not.
    try:
        check_local_update(update)
    except UpdateError as exc:
        raise UsageError(f"{args.update}: {exc}") from None
    client = ctx.client()
    if client is not None:
        with client:
            encoded = base64.b64encode(update).decode()
            try:
                client.call("doc.apply", share=str(share.id), doc=guid, update=encoded)
            except ChunkedDocError:  # named by the file here, not by the daemon's guid
                raise refuse_apply(args.file) from None
            except UpdateError as exc:  # the daemon's own check refused it
                raise UsageError(f"{args.update}: {exc}") from None
        return 0
    target_guid, kind = _offline_guid(share, guid)
    if (refusal := apply_refusal(share.path, guid, kind, args.file)) is not None:
        raise refusal
    target = log_path(share.path, target_guid)
    target.parent.mkdir(parents=True, exist_ok=True)
    append_update(target, update)
    return 0


def run_export(args: argparse.Namespace, ctx: Context) -> int:
    share, guid = _locate(ctx, args.file)
    if args.output:
        refuse_kept(ctx, Path(args.output))
    client = ctx.client()
    if client is not None:
        with client, _output(args.output) as write:  # written as the parts arrive
            client.call_streamed("doc.export", write, share=str(share.id), doc=guid, stream=True)
        return 0
    target_guid, kind = _offline_guid(share, guid)
    try:
        state = read_state(log_path(share.path, target_guid))
    except (FileNotFoundError, InvalidGuidError):  # no entry, and a path no doc is named by
        raise UsageError(f"{args.file} has no document yet") from None
    if kind is FileKind.CHUNKED:
        state = _offline_chunked_export(share, target_guid, state)
    with _output(args.output) as write:
        write(state)
    return 0


def run_url(args: argparse.Namespace, ctx: Context) -> int:
    """``doc url FILE [--json]``: the y-websocket URL of a text file (docs/apps.md)."""
    share, path = _locate(ctx, args.file)
    found = ctx.call("doc.url", share=str(share.id), doc=path)
    if args.json:
        print_json(found)
    else:
        print(found["url"])
    return 0


@contextlib.contextmanager
def _output(output: str | None) -> Iterator[Callable[[bytes], None]]:
    """Where ``export`` writes: standard output, or the file ``output``, replaced at
    once when everything is written (a failed export leaves it as it was)."""
    if not output:
        yield _to_stdout
        sys.stdout.buffer.flush()
        return
    try:
        with atomic_writer(Path(output)) as write:
            yield write
    except OSError as exc:
        raise StorageError(Path(output), f"cannot write it: {exc.strerror or exc}") from None


def _to_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
