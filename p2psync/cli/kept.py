"""Where a command may not write a file it was asked to: what p2psync keeps.

``restore --to OUT`` and ``doc export -o OUT`` write a file where the user says; an OUT
inside a share's ``.p2psync`` folder (its logs, timelines and index) or among this
device's own files (its keys, state and config) would replace them without a word.
"""

from __future__ import annotations

from pathlib import Path

from p2psync.cli.context import Context
from p2psync.errors import UsageError
from p2psync.storage.layout import MARKER_DIR_NAME


def refuse_kept(ctx: Context, out: Path) -> None:
    """Raise UsageError, naming ``out``, if writing it would replace what p2psync keeps."""
    where = out.expanduser().resolve()
    if MARKER_DIR_NAME in where.parts:
        raise UsageError(f"{out} is inside a {MARKER_DIR_NAME} folder, which p2psync keeps: "
                         "write it elsewhere")  # fmt: skip
    home = ctx.home
    own = (home.identity_dir.resolve(), home.state_dir.resolve())
    if any(where.is_relative_to(d) for d in own) or where == home.config_path.resolve():
        raise UsageError(f"{out} is one of this device's own files (its keys, state or "
                         "config): write it elsewhere")  # fmt: skip
