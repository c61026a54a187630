"""Where one device keeps its identity, configuration, state and control socket.

``--home DIR`` puts everything under DIR, so several daemons can run on one machine.
Without it: ``$XDG_CONFIG_HOME/p2psync`` (default ``~/.config/p2psync``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# typing.TYPE_CHECKING without importing typing: type checkers read any TYPE_CHECKING
# as true. The modules ``p2psync status`` loads import typing only so (see Home).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

DEFAULT_SHARE_DIR_NAME = "P2PSync"
MAX_SOCKET_PATH_BYTES = 100  # sun_path holds 108 bytes on Linux, keep a margin


class Home:
    """The directory of one device and the well-known paths inside it, a value equal
    to any Home of the same ``root`` and ``explicit``. A plain class, neither a
    NamedTuple nor a dataclass: importing typing (and making its NamedTuples) or
    dataclasses was a few milliseconds of ``p2psync status``'s start."""

    __slots__ = ("explicit", "root")

    def __init__(self, root: Path, explicit: bool = True) -> None:
        self.root: Final = root
        self.explicit: Final = explicit

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Home):
            return NotImplemented
        return (self.root, self.explicit) == (other.root, other.explicit)

    def __hash__(self) -> int:
        return hash((self.root, self.explicit))

    def __repr__(self) -> str:
        return f"Home(root={self.root!r}, explicit={self.explicit!r})"

    @classmethod
    def resolve(cls, home: Path | None) -> Home:
        """The home given by ``--home``, or the user's XDG configuration directory."""
        if home is not None:
            return cls(home.expanduser().resolve())
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return cls((Path(base) / "p2psync").resolve(), explicit=False)

    @property
    def default_share_dir(self) -> Path:
        """Where the first run puts the default share: ``~/P2PSync`` (like Syncthing's
        ``~/Sync``), or inside an explicit ``--home`` so test devices stay apart."""
        parent = self.root if self.explicit else Path.home()
        return parent / DEFAULT_SHARE_DIR_NAME

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def identity_dir(self) -> Path:
        return self.root / "identity"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def lock_path(self) -> Path:
        """The file a running daemon holds locked (``flock``): one daemon per home."""
        return self.root / "daemon.lock"

    @property
    def socket_path(self) -> Path:
        """The control socket. Long homes (Unix socket paths are short) use a private
        directory under /tmp named after a hash of the home."""
        path = self.root / "control.sock"
        if len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES:
            return path
        import hashlib  # noqa: PLC0415 - only for a long home: hashlib loads OpenSSL

        digest = hashlib.sha256(os.fsencode(self.root)).hexdigest()[:16]
        return Path("/tmp") / f"p2psync-{os.getuid()}" / f"{digest}.sock"  # noqa: S108

    def ensure(self) -> None:
        """Create the home directory (mode 0700) if it does not exist."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)


def daemon_command(home: Home) -> list[str]:
    """The command line that runs this installation's daemon (``p2psync run``) for
    ``home``: what the user service and the tray start."""
    # A standalone bundle's executable is the CLI itself.
    frozen = getattr(sys, "frozen", False)
    argv = [sys.executable] if frozen else [sys.executable, "-m", "p2psync"]
    if home.explicit:
        argv += ["--home", str(home.root)]
    return [*argv, "run"]
