"""The control socket out of file descriptors: the daemon keeps running, says so once,
and accepts again once descriptors are free (a crowd of loaded docs had used them up,
and the error ended the daemon)."""

from __future__ import annotations

import errno
import logging

import pytest

from p2psync.daemon import control


class Listener:
    """A listener whose accept fails ``failures`` times with ``code`` first."""

    def __init__(self, failures: int, code: int) -> None:
        self.failures, self.code = failures, code
        self.stream = object()

    async def accept(self) -> object:
        if self.failures:
            self.failures -= 1
            raise OSError(self.code, "Too many open files")
        return self.stream


async def test_out_of_descriptors_accept_waits_and_tries_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(control, "ACCEPT_RETRY_S", 0.0)
    listener = Listener(3, errno.EMFILE)
    with caplog.at_level(logging.ERROR, logger=control.__name__):
        accepted = await control._accept(listener)  # type: ignore[arg-type]
    assert accepted is listener.stream
    assert [r.getMessage() for r in caplog.records] == [
        "control socket: cannot accept a connection now: Too many open files; "
        "trying again every 0 s"
    ]


async def test_another_accept_error_is_raised() -> None:
    with pytest.raises(OSError, match="Too many"):
        await control._accept(Listener(1, errno.EINVAL))  # type: ignore[arg-type]
