"""The ``p2psync`` command line: one module per subcommand, errors as one sentence.

- ``main``: the entry point: parse, dispatch, turn errors into one sentence.
- ``parser``: the argument parser, built from the table of commands.
- ``context``: what every subcommand gets: the device's home, a way to its daemon.
- ``run``: ``p2psync run``, the daemon in the foreground.
- ``ident``, ``name``: ``p2psync id`` and ``p2psync name``.
- ``shares``: ``p2psync share add|list|remove`` and ``share member add``.
- ``peer``: ``p2psync peer add|remove``, static peer addresses.
- ``invite``: ``p2psync invite`` and ``p2psync join``.
- ``status``: ``p2psync status`` and ``p2psync peers``.
- ``statusview``: their human form (tables), loaded only to print it.
- ``wait``: ``p2psync wait-idle``.
- ``pause``: ``p2psync pause`` and ``p2psync resume``.
- ``events``: ``p2psync events``, the daemon's event stream.
- ``doc``: ``p2psync doc export`` and ``doc apply``.
- ``kept``: where ``restore --to`` and ``doc export -o`` may not write (what p2psync keeps).
- ``conflicts``: ``p2psync conflicts``, the copies of versions that lost.
- ``history``: ``p2psync history`` and ``p2psync restore``, a text file's past versions.
- ``deleted``: ``history --deleted`` and ``restore DIR --at TIME``; ``when``: TIME parsed.
- ``compact``: ``p2psync compact``.
- ``doctor``: ``p2psync doctor``, every doc log verified.
- ``service``: ``p2psync service``, the systemd user service.
- ``demo``: ``p2psync demo``, two daemons on loopback.
- ``human``, ``table``, ``progress``: values, tables and progress as people read them.
"""
