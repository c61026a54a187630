"""The ``p2psync`` command line: one module per subcommand, errors as one sentence."""
