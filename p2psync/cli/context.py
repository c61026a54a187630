"""What every subcommand gets: the device's home and a way to reach its daemon.

Light to import (the control client only): the config file's modules are imported
when a command reads or writes it, the daemon's never for a command that asks one.
"""

from __future__ import annotations

import json
import sys

from p2psync.control.client import ControlClient
from p2psync.errors import DaemonNotRunningError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (control/home.py)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from p2psync.config import Config
    from p2psync.control.home import Home


class Context:
    __slots__ = ("home",)

    def __init__(self, home: Home) -> None:
        self.home = home

    def client(self, *, timeout_s: float | None = 30.0) -> ControlClient | None:
        """A connection to the running daemon, or None if none runs. ``timeout_s``
        bounds each reply (None: wait as long as the daemon works)."""
        try:
            return ControlClient(self.home.socket_path, timeout_s=timeout_s)
        except DaemonNotRunningError:
            return None

    def call(self, method: str, **params: Any) -> Any:
        """Call the daemon; raises DaemonNotRunningError if it is not running."""
        with ControlClient(self.home.socket_path) as client:
            return client.call(method, **params)

    def change_config(
        self, method: str, params: dict[str, Any], edit: Callable[[Config, dict[str, Any]], Config]
    ) -> None:
        """Make a configuration change: through the daemon when one runs (it applies
        the change live), otherwise by editing the config file with ``edit``."""
        client = self.client()
        if client is None:
            self.save(edit(self.config(), params))
            return
        with client:  # the daemon's refusal exits as the same one made here would
            client.call(method, **params)

    def config(self) -> Config:
        from p2psync.daemon.configedits import load_or_init_config  # noqa: PLC0415 - only here

        self.home.ensure()
        return load_or_init_config(self.home)

    def save(self, config: Config) -> None:
        from p2psync.config import save_config  # noqa: PLC0415 - only to write it

        save_config(self.home.config_path, config)


def print_json(value: Any) -> None:
    """``value`` as indented JSON with sorted keys, in one write (``json.dump`` writes
    each key and value apart: a system call each when the output is unbuffered,
    ``PYTHONUNBUFFERED``)."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
