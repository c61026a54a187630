"""The tray's overall state and its anti-flicker filter (pure logic, no Qt)."""

from __future__ import annotations

from typing import Any

from p2psync_tray.state import ERROR_STATE_S, StateFilter, TrayState, overall_state

NOW = 1_000_000.0


def status(state: str = "up-to-date", members: tuple[str, ...] = ("in-sync",), **extra: Any) -> Any:
    share = {"id": "S", "members": [{"state": s} for s in members], "errors": []}
    return {"state": state, "paused": False, "shares": [share], "errors": [], **extra}


def test_no_daemon_is_not_running() -> None:
    assert overall_state(None, now=NOW) is TrayState.NOT_RUNNING


def test_daemon_summary_maps_to_tray_states() -> None:
    assert overall_state(status(), now=NOW) is TrayState.UP_TO_DATE
    assert overall_state(status("offline", ("offline",)), now=NOW) is TrayState.OFFLINE
    assert overall_state(status("paused", ("paused",)), now=NOW) is TrayState.PAUSED
    assert overall_state(status(paused=True), now=NOW) is TrayState.PAUSED


def test_a_failing_link_or_files_not_in_sync_are_an_error_never_up_to_date() -> None:
    assert overall_state(status("failing", ("failing",)), now=NOW) is TrayState.ERROR
    assert overall_state(status("not-in-sync", ("stopped",)), now=NOW) is TrayState.ERROR


def test_a_member_behind_is_syncing_whatever_the_summary_says() -> None:
    stale = status("up-to-date", ("in-sync", "behind"))
    assert overall_state(stale, now=NOW) is TrayState.SYNCING


def test_recent_unseen_error_is_shown_until_seen_or_old() -> None:
    error = {"type": "error", "time": NOW - 10, "message": "disk full"}
    with_error = status(errors=[error])
    assert overall_state(with_error, now=NOW) is TrayState.ERROR
    assert overall_state(with_error, now=NOW, errors_seen_at=NOW - 5) is TrayState.UP_TO_DATE
    later = NOW + ERROR_STATE_S
    assert overall_state(with_error, now=later) is TrayState.UP_TO_DATE


def test_share_errors_count_too() -> None:
    s = status()
    s["shares"][0]["errors"] = [{"type": "error", "time": NOW - 1, "message": "x"}]
    assert overall_state(s, now=NOW) is TrayState.ERROR


def test_filter_shows_the_first_state_at_once() -> None:
    f = StateFilter(moment_s=1.0)
    assert f.update(TrayState.OFFLINE, 0.0) is TrayState.OFFLINE


def test_leaving_up_to_date_is_shown_at_once_entering_it_waits_a_moment() -> None:
    f = StateFilter(moment_s=1.0)
    f.update(TrayState.UP_TO_DATE, 0.0)
    assert f.update(TrayState.SYNCING, 0.1) is TrayState.SYNCING
    assert f.update(TrayState.UP_TO_DATE, 0.2) is TrayState.SYNCING
    assert f.update(TrayState.UP_TO_DATE, 0.9) is TrayState.SYNCING
    assert f.update(TrayState.UP_TO_DATE, 1.2) is TrayState.UP_TO_DATE


def test_a_blip_shorter_than_a_moment_is_not_shown() -> None:
    f = StateFilter(moment_s=1.0)
    f.update(TrayState.SYNCING, 0.0)
    assert f.update(TrayState.OFFLINE, 0.1) is TrayState.SYNCING
    assert f.update(TrayState.SYNCING, 0.5) is TrayState.SYNCING
    assert f.update(TrayState.OFFLINE, 0.6) is TrayState.SYNCING  # the clock starts again
    assert f.update(TrayState.OFFLINE, 1.5) is TrayState.SYNCING
    assert f.update(TrayState.OFFLINE, 1.7) is TrayState.OFFLINE


def test_short_syncs_are_not_animated() -> None:
    f = StateFilter(moment_s=1.0)
    f.update(TrayState.UP_TO_DATE, 0.0)
    f.update(TrayState.SYNCING, 10.0)
    assert not f.animate(10.5)
    assert f.animate(11.0)
    f.update(TrayState.UP_TO_DATE, 11.1)
    f.update(TrayState.UP_TO_DATE, 12.2)
    assert f.shown is TrayState.UP_TO_DATE
    assert not f.animate(12.3)
