"""One daemon per share folder: the lock a running share holds on its ``.p2psync``.

Two daemons (two homes on one machine, or a folder on a network disk two machines
mount) that both ran one share folder would both write its logs, records and index:
each would take the other's writes for another program's and its index for stale,
and an index written over by the other would name logs it never wrote. The home's
own ``daemon.lock`` keeps one daemon per home; this keeps one per share folder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from p2psync.storage.layout import marker_dir

LOCK_FILE_NAME = "daemon.lock"


def lock_share_folder(share_root: Path) -> int | None:
    """Take the lock of the share folder ``share_root`` (its ``.p2psync`` must exist):
    the descriptor that holds it until closed (or the process ends), or None if another
    process holds it. Raises OSError if the lock file cannot be opened. Blocking: run
    it in a worker thread."""
    path = marker_dir(share_root) / LOCK_FILE_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd
