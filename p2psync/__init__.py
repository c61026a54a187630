"""p2psync: serverless LAN sync of shared document folders over Yjs CRDTs.

Packages and modules, top down; imports point down only (docs/architecture.md):

- ``__main__``: ``python -m p2psync``, the command line.
- ``cli``: the ``p2psync`` command line, one module per subcommand.
- ``daemon``: the composition root: the services, their nursery tree, the control API.
- ``mirror``: the files of a share folder kept equal to the share's docs.
- ``apps``: the y-websocket endpoint through which local Yjs apps edit text files.
- ``replica``: a share's docs in memory and the sync engine's decisions, no I/O.
- ``net``: this device's identity and the TLS transport with its handshake.
- ``discovery``: LAN discovery over mDNS (the one importer of zeroconf).
- ``watch``: filesystem watching (the one importer of watchdog).
- ``invitecode``: invite codes, what a device needs to join a share.
- ``control``: the control API's client, framing, home paths, error codes and reply
  types, shared by the daemon, the CLI and the tray app (no Trio, no CRDT library).
- ``protocol``: the sync protocol, sans I/O.
- ``storage``: one append-only log per doc, compaction, the persisted index.
- ``config``: the device's configuration file.
- ``ids``: device IDs, share IDs and Yjs client IDs.
- ``errors``: the one error hierarchy, each error a one-sentence message.
"""

__version__ = "0.1.0"
