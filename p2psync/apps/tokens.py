"""Access tokens: each grants one doc of one share, and nothing else.

A token is ``HMAC-SHA256(secret, "p2psync-apps-v1" NUL share NUL guid)`` in unpadded
base64url. The secret is 32 random bytes kept in one file (mode 0600) under the
device's home; it never leaves the device. Replacing the file revokes every token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_BYTES = 32
_CONTEXT = b"p2psync-apps-v1"


def load_or_create_secret(path: Path) -> bytes:
    """The secret in ``path``, created (0600, written atomically) if missing or short."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    if len(data) >= SECRET_BYTES:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return data[:SECRET_BYTES]
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(SECRET_BYTES)
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    temp.replace(path)
    return secret


def doc_token(secret: bytes, share: str, guid: str) -> str:
    """The token granting doc ``guid`` of share ``share``."""
    mac = hmac.new(secret, b"\0".join([_CONTEXT, share.encode(), guid.encode()]), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def token_grants(secret: bytes, token: str, share: str, guid: str) -> bool:
    """Whether ``token`` grants doc ``guid`` of share ``share`` (constant time)."""
    return hmac.compare_digest(doc_token(secret, share, guid).encode(), token.encode())
