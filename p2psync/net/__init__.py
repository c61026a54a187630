"""Trio network adapters: device identity and the TLS transport to peers.

- ``identity``: this device's key pair and self-signed certificate, made on first use.
- ``transport``: TLS 1.3 and the authenticated handshake, giving a ``PeerChannel``.
- ``invitekey``: the key an invite secret stands for, and the join proof made with it.
- ``rate``: transfer rates over a short sliding window.

The peer links themselves (dialing, one link per device) are ``p2psync.daemon.peers``.
"""
