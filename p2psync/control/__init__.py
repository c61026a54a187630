"""The client side of the control API, shared by the daemon, the CLI and the tray app.

What a program needs to talk to a daemon, and nothing of the daemon itself: no Trio,
zeroconf, watchdog, pycrdt or cryptography (the "control-light" import contract), so
that ``p2psync status`` starts in about the time Python does. The daemon's server
imports the same framing, home paths and error table from here. Modules:

- ``client``: ``ControlClient``, the blocking control API client (docs/control-api.md).
- ``wire``: the framing: one versioned, size-limited JSON object per line.
- ``home``: where one device keeps its identity, config, state and control socket.
- ``errorcodes``: the one table of errors: class, stable control API code, CLI exit
  code; docs/reference/exit-codes.md is generated from it.
- ``replies``: a TypedDict of each method's result, which the daemon's methods return
  and the CLI reads (``REPLIES``: method → type).

This module imports nothing, so that importing one of them loads only what it needs.
"""
