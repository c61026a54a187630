"""Which daemon events become desktop notifications, and their words (no Qt).

Each notification belongs to one kind; the user can switch each kind off (the tray's
settings keep the switches).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from p2psync_tray.describe import error_sentence, event_text


class Kind(StrEnum):
    """A switch of the notifications menu."""

    PEERS = "peers"
    PENDING = "pending"
    ERRORS = "errors"
    MERGES = "merges"


KIND_TEXT = {
    Kind.PEERS: "Peer connected or disconnected",
    Kind.PENDING: "Unknown device wants to connect",
    Kind.ERRORS: "Errors",
    Kind.MERGES: "Merged concurrent edits and kept copies",
}
EVENT_KINDS = {
    "peer-connected": Kind.PEERS,
    "peer-disconnected": Kind.PEERS,
    "pending-device": Kind.PENDING,
    "error": Kind.ERRORS,
    "file-merged": Kind.MERGES,
    "version-conflict": Kind.MERGES,
    "path-conflict": Kind.MERGES,
    "case-collision": Kind.MERGES,
}
TITLES = {
    "peer-connected": "Peer connected",
    "peer-disconnected": "Peer disconnected",
    "pending-device": "New device",
    "error": "p2psync error",
    "file-merged": "Edits merged",
    "version-conflict": "Both versions kept",
    "path-conflict": "Both files kept",
    "case-collision": "Names differ only in case",
}


@dataclass(frozen=True, slots=True)
class Notification:
    kind: Kind
    title: str
    text: str
    warning: bool = False


def notification_for(event: Mapping[str, Any]) -> Notification | None:
    """The notification an event deserves, or None for events nobody is told about."""
    kind_name = str(event.get("type", ""))
    kind = EVENT_KINDS.get(kind_name)
    if kind is None:
        return None
    if kind is Kind.ERRORS:
        text = error_sentence(str(event.get("message", "")))
        return Notification(kind, TITLES[kind_name], text, warning=True)
    return Notification(kind, TITLES[kind_name], event_text(event))
