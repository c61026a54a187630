"""The sync protocol, sans I/O (spec: docs/protocol.md).

- ``frames``: length-prefixed msgpack frames with hard size limits.
- ``messages``: the sync messages the engine speaks (index, SyncStep1/2, updates).
- ``wire``: every message's encoding and validating decoder.
- ``connection``: the state machine of one connection (hello, auth, established).
- ``yjs``: decoding of Yjs state vectors and delete sets, doc versions.
"""
