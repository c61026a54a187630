"""What the client signs to prove its identity inside the TLS session. Pure.

Python's ``ssl`` cannot accept an unknown self-signed client certificate and report
it, so TLS authenticates only the server (the client pins its certificate). The client
then sends its certificate and a signature over this transcript, which binds both
Hello nonces and both certificates: a proof cannot be replayed on another connection,
nor relayed by a man in the middle (whose certificate would not be the pinned one).
"""

from __future__ import annotations

import hashlib

AUTH_CONTEXT = b"p2psync-auth-v1"
"""Domain separation: these signatures can never be mistaken for any other."""


def auth_transcript(
    *,
    server_nonce: bytes,
    client_nonce: bytes,
    server_certificate: bytes,
    client_certificate: bytes,
) -> bytes:
    """The bytes the client signs: AUTH_CONTEXT | server nonce | client nonce |
    SHA-256(server certificate DER) | SHA-256(client certificate DER)."""
    return b"".join((
        AUTH_CONTEXT,
        server_nonce,
        client_nonce,
        hashlib.sha256(server_certificate).digest(),
        hashlib.sha256(client_certificate).digest(),
    ))  # fmt: skip


JOIN_CONTEXT = b"p2psync-join-v1"
"""Domain separation of the join proof (``net.invitekey``) from the identity proof."""


def join_transcript(auth: bytes) -> bytes:
    """What a joiner signs with the key of its invite secret: JOIN_CONTEXT | the auth
    transcript of this session (both nonces, both certificates). Bound to the session
    exactly like the identity proof: not replayable, useless to a man in the middle."""
    return JOIN_CONTEXT + auth
