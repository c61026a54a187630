"""p2psync: serverless LAN sync of shared document folders over Yjs CRDTs.

Layers (imports point down only; DESIGN.md §3):
vocabulary (errors, ids, config) < protocol, storage, replica, mirror
< net, discovery, watch < daemon < cli.
"""

__version__ = "0.1.0"
