"""The tray's overall state, derived from the daemon's status, and its anti-flicker filter.

No Qt here: ``overall_state`` is a pure function of a ``status`` result (see
docs/control-api.md), and ``StateFilter`` decides which state the icon shows so that
a change shorter than a moment does not make it blink, while the icon never claims
"up to date" when the daemon says a connected member is behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MOMENT_S = 0.8  # a state must last this long before the icon shows it
ERROR_STATE_S = 300.0  # an error not yet seen in the status window shows this long


class TrayState(StrEnum):
    """What the tray icon says, from most to least urgent."""

    NOT_RUNNING = "not-running"
    PAUSED = "paused"
    ERROR = "error"
    SYNCING = "syncing"
    OFFLINE = "offline"
    UP_TO_DATE = "up-to-date"


def latest_error_time(status: Mapping[str, Any]) -> float:
    """When the newest ``error`` event in ``status`` happened (0: none)."""
    events: list[Any] = list(status.get("errors") or [])
    for share in status.get("shares") or []:
        events.extend(share.get("errors") or [])
    return max((float(e.get("time") or 0) for e in events if isinstance(e, dict)), default=0.0)


def member_states(status: Mapping[str, Any]) -> Iterable[str]:
    """The ``state`` of every member of every share."""
    for share in status.get("shares") or []:
        for member in share.get("members") or []:
            yield str(member.get("state", ""))


def overall_state(
    status: Mapping[str, Any] | None, *, now: float, errors_seen_at: float = 0.0
) -> TrayState:
    """The state of the device as a whole.

    ``status`` is None when no daemon answers. An error counts while it is newer than
    ``errors_seen_at`` (when the user last looked at the status window) and younger
    than ERROR_STATE_S. A member that is ``behind`` means syncing, whatever the
    daemon's own summary says, so "up to date" is never shown while one is.
    """
    if status is None:
        return TrayState.NOT_RUNNING
    daemon_state = str(status.get("state", ""))
    if status.get("paused") or daemon_state == "paused":
        return TrayState.PAUSED
    last_error = latest_error_time(status)
    if last_error > errors_seen_at and now - last_error < ERROR_STATE_S:
        return TrayState.ERROR
    if daemon_state == "syncing" or "behind" in member_states(status):
        return TrayState.SYNCING
    if daemon_state in ("failing", "not-in-sync"):  # a link fails, files cannot sync
        return TrayState.ERROR
    if daemon_state == "offline":
        return TrayState.OFFLINE
    return TrayState.UP_TO_DATE


@dataclass
class StateFilter:
    """Which state the icon shows, given the states measured over time.

    A new state is shown once it has lasted ``moment_s``, so a blip does not blink
    the icon. The exception keeps the icon truthful: leaving "up to date" is shown
    at once (any other state is more urgent than a claim that all is well), and
    entering it waits the moment like everything else. The syncing animation starts
    only after syncing has been shown for a moment: short syncs are not animated.
    """

    moment_s: float = MOMENT_S
    shown: TrayState | None = None
    shown_since: float = 0.0
    _candidate: TrayState | None = None
    _candidate_since: float = 0.0

    def update(self, measured: TrayState, now: float) -> TrayState:
        """Take the state measured at ``now``; return the state to show."""
        shown = self.shown
        if shown is None or (shown is TrayState.UP_TO_DATE and measured is not shown):
            self._show(measured, now)
            return measured
        if measured is shown:
            self._candidate = None
        elif measured is not self._candidate:
            self._candidate, self._candidate_since = measured, now
        elif now - self._candidate_since >= self.moment_s:
            self._show(measured, now)
            return measured
        return shown

    def animate(self, now: float) -> bool:
        """Whether the syncing animation should run now."""
        return self.shown is TrayState.SYNCING and now - self.shown_since >= self.moment_s

    def _show(self, state: TrayState, now: float) -> None:
        self.shown, self.shown_since, self._candidate = state, now, None
