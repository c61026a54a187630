"""``python -m p2psync`` runs the command-line interface."""

from p2psync.cli.main import main

raise SystemExit(main())
