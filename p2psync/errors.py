"""The one error hierarchy of p2psync.

Every error says *where* it happened (file and offset, peer, share, doc) so that the
CLI can print one clear sentence and the daemon can log one precise line. The CLI maps
each top-level class to an exit code.
"""

from __future__ import annotations

from pathlib import Path


class P2PSyncError(Exception):
    """Base class of every error p2psync raises on purpose."""


class UsageError(P2PSyncError):
    """The user asked for something that cannot be done (bad argument, missing path)."""


class StorageError(P2PSyncError):
    """A document log could not be read or written."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class CorruptLogError(StorageError):
    """A log holds bytes that fail validation at a known offset.

    Raised (or reported by recovery) with the file and the byte offset of the first
    record that failed, so the damage can be found with a hex editor.
    """

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(path, f"corrupt at byte offset {offset}: {reason}")
        self.offset = offset
        self.reason = reason


class UnsupportedLogError(StorageError):
    """A log was written by a newer format version or holds an unknown record type.

    Such a file is valid but not ours to interpret: it is left untouched.
    """


class LogWriteError(StorageError):
    """An append or fsync failed; the records of that append are not stored."""


class CorruptIndexError(StorageError):
    """A share's persisted index file fails validation; it is rebuilt from the logs."""


class UpdateError(P2PSyncError):
    """Bytes that were supposed to be a Yjs v1 update are not one."""


class ConfigError(UsageError):
    """The configuration file (or a value for it) is invalid; says which file and field."""


class ControlError(P2PSyncError):
    """A control API request failed: malformed, unknown, or refused by the daemon."""

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.code = code


class DaemonNotRunningError(ControlError):
    """No daemon answers on the control socket of this home."""


class InvalidIdError(UsageError):
    """Text that should be a device ID or share ID is not one (says why)."""


class IdentityError(P2PSyncError):
    """This device's key or certificate cannot be created or read (names the file)."""


class ProtocolError(P2PSyncError):
    """The sync protocol was violated."""


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol does not allow now (our bug)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something invalid. ``code`` is sent in a Goodbye before closing."""

    def __init__(self, message: str, code: str = "protocol-error") -> None:
        super().__init__(message)
        self.code = code


# -- sync protocol errors (p2psync.protocol; spec: docs/protocol.md) -------------------
#
# Each RemoteProtocolError subclass has its own default ``code``: the word the daemon
# sends in a Goodbye before closing, so the peer (and its GUI) can say what went wrong.


class MessageTooLargeError(LocalProtocolError):
    """A message we were about to send does not fit in one frame; nothing was sent."""


class FrameTooLargeError(RemoteProtocolError):
    """A length prefix announced a frame over the limit (refused before its body).

    ``kind``, ``share_id`` and ``guid`` are what the start of the refused body says of
    it (its ``t``, ``s`` and ``d`` fields) when those bytes had arrived: unverified,
    for reporting which share the peer was sending, or None.
    """

    def __init__(
        self,
        message: str,
        code: str = "frame-too-large",
        *,
        kind: str | None = None,
        share_id: bytes | None = None,
        guid: str | None = None,
    ) -> None:
        super().__init__(message, code)
        self.kind = kind
        self.share_id = share_id
        self.guid = guid


class MalformedFrameError(RemoteProtocolError):
    """A frame body is not a msgpack map within the limits, or the stream ended inside
    a frame."""

    def __init__(self, message: str, code: str = "bad-frame") -> None:
        super().__init__(message, code)


class MalformedMessageError(RemoteProtocolError):
    """A frame is well formed but is not a valid message: unknown type, a field of the
    wrong type or size, a bad magic or a malformed Yjs state vector."""

    def __init__(self, message: str, code: str = "bad-message") -> None:
        super().__init__(message, code)


class MalformedYjsError(MalformedMessageError, ValueError):
    """Bytes that should be a Yjs v1 state vector or delete set are not one.

    Also a ValueError, as pycrdt's own complaints about malformed input are.
    """

    def __init__(self, message: str, code: str = "bad-yjs") -> None:
        super().__init__(message, code)


class UnexpectedMessageError(RemoteProtocolError):
    """A valid message that the peer may not send in the connection's current state
    (a doc frame before authentication, a second Hello...)."""

    def __init__(self, message: str, code: str = "unexpected-message") -> None:
        super().__init__(message, code)


class VersionMismatchError(RemoteProtocolError):
    """The peer speaks no protocol version we speak. Both lists are kept for the GUI."""

    def __init__(self, ours: tuple[int, ...], theirs: tuple[int, ...]) -> None:
        super().__init__(
            "no common protocol version: we speak "
            f"{_versions(ours)}, the peer speaks {_versions(theirs)}",
            "no-common-version",
        )
        self.ours = ours
        self.theirs = theirs


def _versions(versions: tuple[int, ...]) -> str:
    return ", ".join(map(str, versions)) or "none"


class PeerTimeoutError(RemoteProtocolError):
    """The peer did not finish the handshake in time, or went silent for too long."""

    def __init__(self, message: str, code: str = "timeout") -> None:
        super().__init__(message, code)


# -- plain files in a share (p2psync.mirror; docs/mirror.md) -----------------------------


class UnsafePathError(P2PSyncError, ValueError):
    """A path inside a share, from a peer or from disk, that p2psync will not write or
    read: it could escape the share, name the internal ``.p2psync/`` folder, or reach a
    different file than named on some filesystem. Says which path and why.

    Also a ValueError: the path is a bad value, whoever sent it.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"unsafe path {path!r}: {reason}")
        self.path = path
        self.reason = reason


# -- invites and membership (docs/security.md) -------------------------------------------


class InvalidInviteError(UsageError):
    """Text that should be an invite code is not one: mistyped (the checksum fails),
    cut short, too long, or from a newer version. Says which."""


class InviteRefusedError(P2PSyncError):
    """The inviter did not accept our invite proof (unknown, expired or already used
    code), or could not be reached to check it. ``code`` is the Goodbye code."""

    def __init__(self, message: str, code: str = "bad-invite") -> None:
        super().__init__(message)
        self.code = code


class ChunkedDocError(UsageError):
    """A Yjs update was sent to a chunked file (a large text file stored as a root doc
    and chunk docs, docs/mirror.md): there is no one doc of its text to apply it to."""
