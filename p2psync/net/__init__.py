"""Trio network adapters: device identity, TLS transport, peer connections."""
