"""The inviter's open invites: stored hashed, expiring, single use.

``state/invites.json`` (mode 0600) lists each open invite by its *verifier*, the
public key derived from its secret (``net.invitekey``): the secret itself is never
stored, and the verifier cannot be turned back into it or into a proof. The CLI (when
no daemon runs) and the daemon both use this store; every change is a locked
read-modify-write of the whole file, written atomically, so they never lose each
other's invites. Expired invites are dropped whenever the file is written; an invite
is removed the moment a joiner's proof is accepted, so a code works once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2psync.config import FolderMode, parse_address
from p2psync.errors import InvalidIdError, StorageError, UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.invitecode import MAX_ADDRESSES, InviteCode
from p2psync.net.invitekey import invite_verifier
from p2psync.storage.fileops import write_file_atomically

log = logging.getLogger(__name__)

INVITES_FILE = "invites.json"
MAX_OPEN_INVITES = 100
MAX_INVITES_FILE_BYTES = 256 * 1024
DEFAULT_INVITE_TTL_S = 24 * 3600
MAX_INVITE_TTL_S = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class OpenInvite:
    """One invite not used yet: the share it admits to, the mode the joiner gets
    there, and when it expires."""

    verifier: bytes
    share_id: ShareId
    expires: int
    mode: FolderMode = FolderMode.SEND_RECEIVE


class InviteStore:
    """The open invites of one device (``state_dir/invites.json``)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / INVITES_FILE
        self._lock_path = state_dir / f".{INVITES_FILE}.lock"

    def add(self, invite: OpenInvite, *, now: float) -> None:
        """Record ``invite``. Raises UsageError when MAX_OPEN_INVITES are open already,
        StorageError if the file cannot be read or written."""
        with self._locked():
            invites = self._live(now)
            if len(invites) >= MAX_OPEN_INVITES:
                raise UsageError(
                    f"{MAX_OPEN_INVITES} invites are open already; let some expire or be used"
                )
            self._write([*invites, invite])

    def consume(self, verifier: bytes, *, now: float) -> OpenInvite | None:
        """The open, unexpired invite named by ``verifier``, removed from the store so
        it never admits anyone again; None if there is no such invite. Raises
        StorageError if the file cannot be read or written."""
        with self._locked():
            invites = self._live(now)
            found = next((i for i in invites if i.verifier == verifier), None)
            if found is None:
                return None
            self._write([i for i in invites if i is not found])
            return found

    def open_invites(self, *, now: float) -> list[OpenInvite]:
        """The invites that are neither used nor expired (read-only)."""
        return self._live(now)

    # -- file --------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _live(self, now: float) -> list[OpenInvite]:
        return [i for i in self._read() if i.expires > now]

    def _read(self) -> list[OpenInvite]:
        try:
            with self.path.open("rb") as f:
                raw = f.read(MAX_INVITES_FILE_BYTES + 1)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(self.path, f"cannot read the invites: {exc.strerror}") from exc
        if len(raw) > MAX_INVITES_FILE_BYTES:
            raise StorageError(self.path, f"larger than {MAX_INVITES_FILE_BYTES} bytes")
        try:
            doc = json.loads(raw)
            return [_from_json(item) for item in doc["invites"]]
        except (ValueError, KeyError, TypeError, InvalidIdError) as exc:
            raise StorageError(self.path, f"not a valid invites file: {exc}") from exc

    def _write(self, invites: list[OpenInvite]) -> None:
        doc = {"version": 1, "invites": [_to_json(i) for i in invites]}
        try:
            write_file_atomically(self.path, json.dumps(doc).encode(), mode=0o600)
        except OSError as exc:
            raise StorageError(self.path, f"cannot write the invites: {exc.strerror}") from exc


def _to_json(invite: OpenInvite) -> dict[str, Any]:
    return {
        "verifier": invite.verifier.hex(),
        "share": str(invite.share_id),
        "expires": invite.expires,
        "mode": invite.mode.value,
    }


def _from_json(item: Any) -> OpenInvite:
    expires = item["expires"]
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise TypeError("an expiry is not an integer")
    mode = FolderMode(item.get("mode", FolderMode.SEND_RECEIVE.value))  # absent before modes
    return OpenInvite(bytes.fromhex(item["verifier"]), ShareId.parse(item["share"]), expires, mode)


def make_invite(
    store: InviteStore,
    *,
    share_id: ShareId,
    inviter: DeviceId,
    addresses: tuple[str, ...],
    ttl_s: int,
    now: float,
    mode: FolderMode = FolderMode.SEND_RECEIVE,
) -> InviteCode:
    """A new invite code for ``share_id``, recorded (by its verifier, with the ``mode``
    the joiner will have) in ``store``. Raises UsageError for a lifetime out of
    1 s..MAX_INVITE_TTL_S, too many addresses or too many open invites; StorageError
    if the store cannot be written."""
    if not 0 < ttl_s <= MAX_INVITE_TTL_S:
        raise UsageError(f"an invite lives 1 s to {MAX_INVITE_TTL_S // 86400} days")
    code = InviteCode.new(share_id, inviter, addresses[:MAX_ADDRESSES], int(now) + ttl_s)
    store.add(OpenInvite(invite_verifier(code.secret), share_id, code.expires, mode), now=now)
    return code


def invite_addresses(listen: str) -> tuple[str, ...]:
    """Where a joiner may dial us, from our listen address: that address itself, or
    for a wildcard (``0.0.0.0``, ``::``) this host's own IPv4 addresses (loopback only
    if it has no other), with the listening port."""
    host, port = parse_address(listen)
    if host not in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
        return (listen,)
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    hosts = sorted({str(info[4][0]) for info in infos} - {"127.0.0.1", "127.0.1.1"})
    return tuple(f"{h}:{port}" for h in (hosts or ["127.0.0.1"])[:MAX_ADDRESSES])
