"""Whether a share's folder may be made, or must be there already, when it starts.

A share that was set up here (``share add`` made its folder and ``.p2psync`` marker,
or it ran here before) is never made again: a folder that is missing (moved away) or
has no marker (a disk not mounted under its mount point) stops the share instead, so
that nothing is written under a missing mount point and nothing is read as "every
file was deleted". Only a share never set up at its path (the first run's default
share, one written into ``config.toml`` by hand, one just joined) has its folder and
marker made on its first start.

The home remembers each share set up, and where: ``state/shares/<share-id>.json``
(``{"version": 1, "path": ...}``). In a home from before these records (no
``state/shares/`` at all) the first start records the shares that have a member map
(``state/members/<share-id>.json``, written once a share was in a running daemon's
config): they ran before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from p2psync.config import ShareConfig
from p2psync.control.home import Home
from p2psync.ids import ShareId
from p2psync.storage.fileops import write_file_atomically
from p2psync.storage.layout import MARKER_DIR_NAME, marker_dir

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 64 * 1024


def records_dir(home: Home) -> Path:
    """Where the home records the shares set up here."""
    return home.state_dir / "shares"


def members_dir(home: Home) -> Path:
    """Where the daemon keeps each share's member map (``daemon.membership``)."""
    return home.state_dir / "members"


def record_path(home: Home, share_id: ShareId) -> Path:
    return records_dir(home) / f"{share_id}.json"


def record_set_up(home: Home, share: ShareConfig) -> None:
    """Remember that ``share``'s folder and marker were made (or found) at its path."""
    if _recorded_path(home, share.id) == share.path:
        return
    records_dir(home).mkdir(mode=0o700, parents=True, exist_ok=True)
    data = json.dumps({"version": 1, "path": str(share.path)}).encode()
    write_file_atomically(record_path(home, share.id), data, mode=0o600)


def was_set_up(home: Home, share: ShareConfig) -> bool:
    """Whether ``share`` was set up here at its configured path (see the module)."""
    recorded = _recorded_path(home, share.id)
    if recorded is not None:
        return recorded == share.path
    return record_path(home, share.id).exists()  # unreadable: say set up, make nothing


def adopt_old_home(home: Home, shares: Iterable[ShareConfig]) -> None:
    """In a home from before these records (no ``state/shares/``), record set up the
    configured shares that have a member map: they were in a running daemon's config.
    Called as the daemon starts, before it writes any member map."""
    if records_dir(home).exists():
        return
    records_dir(home).mkdir(mode=0o700, parents=True, exist_ok=True)
    for share in shares:
        if (members_dir(home) / f"{share.id}.json").exists():
            record_set_up(home, share)


def _recorded_path(home: Home, share_id: ShareId) -> Path | None:
    try:
        with record_path(home, share_id).open("rb") as file:
            doc = json.loads(file.read(MAX_RECORD_BYTES))
        return Path(doc["path"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.error("share %s: its record in %s is unreadable: %s", share_id, records_dir(home), exc)
        return None


def make_folder(share: ShareConfig) -> None:
    """Make ``share``'s folder (and missing parents) and its ``.p2psync`` marker.
    Raises OSError (FileExistsError: the path is a file)."""
    share.path.mkdir(parents=True, exist_ok=True)
    marker_dir(share.path).mkdir(exist_ok=True)


def set_up_folder(home: Home, share: ShareConfig) -> None:
    """``share add``: make the new share's folder and marker, and record it set up,
    so that from now on a missing folder stops the share instead of being made again.
    Raises OSError."""
    make_folder(share)
    record_set_up(home, share)


class Unfit(NamedTuple):
    """Why a share may not start (``prepare``)."""

    why: str
    """What is wrong, one sentence naming the share and its folder."""
    then: str
    """What becomes of the share, for the user: stopped, and until when."""

    def sentence(self) -> str:
        """The whole sentence, for ``status`` and the error event."""
        return f"{self.why}; {self.then}"


RESUMES = ("the share is stopped and nothing is written there; it starts by itself once the "
           f"folder is back with its {MARKER_DIR_NAME}")  # fmt: skip
UNTIL_RESTART = "the share is stopped until the daemon restarts"


def prepare(home: Home, share: ShareConfig, *, new: bool = False) -> Unfit | None:
    """Before ``share`` starts: None if it may (its folder and marker are there, or it
    was never set up here, or is ``new`` here (just joined), and they were just made;
    it is then recorded set up), else why it may not. Blocking: run it in a thread."""
    path, name = share.path, str(share.id)
    try:
        if path.exists() and not path.is_dir():
            return Unfit(f"share {name}: {path} is a file, not a folder", UNTIL_RESTART)
        if not marker_dir(path).is_dir():
            if not new and was_set_up(home, share):
                return Unfit(_missing(name, path), RESUMES)
            make_folder(share)  # its first start here
    except OSError as exc:
        why = f"share {name}: cannot use its folder {path}: {exc.strerror or exc}"
        return Unfit(why, UNTIL_RESTART)
    try:
        record_set_up(home, share)
    except OSError as exc:  # the share runs; only a later start cannot tell
        log.error("share %s: cannot record its folder in %s: %s", name, records_dir(home), exc)
    return None


def _missing(name: str, path: Path) -> str:
    if not path.exists():
        return f"share {name}: its folder {path} is missing (moved away, or a disk not mounted?)"
    return (f"share {name}: the folder {path} is not a p2psync share folder any more: it has "
            f"no {MARKER_DIR_NAME} folder (a disk not mounted?)")  # fmt: skip
