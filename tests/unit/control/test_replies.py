"""The reply types (control/replies.py) cover every method of the control API."""

from __future__ import annotations

from typing import Any, cast, is_typeddict

from p2psync.control.replies import REPLIES
from p2psync.daemon.api import ControlApi


def test_every_method_has_a_reply_type() -> None:
    methods = set(ControlApi(cast(Any, None)).handlers())
    assert set(REPLIES) == methods
    assert all(is_typeddict(kind) for kinds in REPLIES.values() for kind in kinds)
