"""The key an invite secret stands for, and the join proof made with it.

The inviter must be able to check that a joiner knows the secret of an invite without
keeping the secret itself: its state holds only a *verifier*, the Ed25519 public key
derived from the secret (``invite_verifier``), from which the secret cannot be
recovered and with which no proof can be forged. The joiner derives the private key
from the secret in the code and signs the join transcript of the authenticated
session (``protocol.auth.join_transcript``: both Hello nonces and both certificates),
so the proof is useless on any other connection, replayed or relayed by a man in the
middle.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KEY_CONTEXT = b"p2psync-invite-key-v1"
VERIFIER_BYTES = 32
PROOF_BYTES = 64


def _private_key(secret: bytes) -> Ed25519PrivateKey:
    seed = hashlib.sha256(KEY_CONTEXT + secret).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def invite_verifier(secret: bytes) -> bytes:
    """The 32-byte public key of ``secret``: what the inviter stores and the joiner
    names in its Auth."""
    return _private_key(secret).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_join(secret: bytes, transcript: bytes) -> bytes:
    """The joiner's proof: an Ed25519 signature over ``transcript`` (64 bytes)."""
    return _private_key(secret).sign(transcript)


def verify_join(verifier: bytes, transcript: bytes, proof: bytes) -> bool:
    """True if ``proof`` signs ``transcript`` with the key of ``verifier``."""
    try:
        Ed25519PublicKey.from_public_bytes(verifier).verify(proof, transcript)
    except (InvalidSignature, ValueError):
        return False
    return True
