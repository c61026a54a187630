"""Local apps: a y-websocket endpoint through which any Yjs app on this machine edits
the text files of a share live (docs/apps.md). It knows no share: the daemon hands
the server a ``RoomBackend`` and tells it of every change to a doc.

Modules: ``wire`` (the y-websocket messages, sans I/O), ``tokens`` (the per-device
secret and the one-doc tokens derived from it), ``presence`` (the awareness states of
local apps and of peers' apps, their timeout and bounds, sans I/O), ``server`` (rooms,
clients, limits, over trio-websocket).
"""
