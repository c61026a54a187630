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
