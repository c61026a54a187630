"""Entry point of the standalone bundle: one executable for the CLI, daemon and tray.

Called as ``p2psync`` it is the CLI; called through the ``p2psync-tray`` link beside
it, the tray. The product starts helper processes as ``sys.executable -m MODULE``
(the demo's daemons, the snapshot worker); in a bundle ``sys.executable`` is this
program, so ``-m MODULE ARGS`` runs that module the way the interpreter would.
"""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path

TRAY_NAME = "p2psync-tray"


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    if Path(sys.argv[0]).name == TRAY_NAME:
        # Imported by name: the bundle collects the tray package only when it exists.
        tray = importlib.import_module("p2psync_tray.__main__")
        return int(tray.main() or 0)
    from p2psync.cli.main import main as cli_main  # noqa: PLC0415

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
