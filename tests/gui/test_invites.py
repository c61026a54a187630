"""The invite and join dialogs against real daemons: a code made in one tray's invite
dialog lets a new device join through its own tray's join dialog, and the share then
syncs; a mistyped code is told in words and never reaches the daemon."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from p2psync.invitecode import parse_invite
from p2psync_tray.describe import format_until
from p2psync_tray.invites import JoinDialog
from p2psync_tray.tray import TrayApp
from tests.support.daemons import Device, cli, wait_for
from tests.support.tray import WAIT_MS, Pair, find_action, make_tray

JOIN_WAIT_MS = 60_000
GROUPED = re.compile(r"[A-Z2-7]{6}(-[A-Z2-7]{6})*(-[A-Z2-7]{1,5})?")
CHECKSUM_SENTENCE = "This invite code does not check out: a character is mistyped or missing."


def members(device: Device, share: str) -> set[str]:
    shares = {s["id"]: s for s in device.status()["shares"]}
    return {m["device_id"] for m in shares[share]["members"]} if share in shares else set()


def share_entry(menu: QMenu, label: str, text: str) -> QAction:
    """The entry ``text`` of the submenu of the share shown as ``label``."""
    for action in menu.actions():
        sub = action.menu()
        if isinstance(sub, QMenu) and action.text().startswith(f"{label} — "):
            return find_action(sub, text)
    raise AssertionError(f"no submenu for share {label!r}")


def test_invite_dialog_code_joins_a_new_device_that_then_syncs(
    qtbot: QtBot, tmp_path: Path, pair: Pair, tray: TrayApp
) -> None:
    qtbot.waitUntil(lambda: tray.snapshot is not None, timeout=WAIT_MS)
    tray.fill_menu()
    share_entry(tray.menu, "alpha-share", "Invite a device…").trigger()
    invite = tray.dialogs.invite
    assert invite is not None
    assert invite.share_box.currentData() == pair.share
    qtbot.waitUntil(lambda: invite.code != "", timeout=WAIT_MS)
    assert GROUPED.fullmatch(invite.code), invite.code
    assert invite.code_box.toPlainText() == invite.code
    code = parse_invite(invite.code)
    assert str(code.share_id) == pair.share
    assert str(code.inviter) == pair.a.id
    assert pair.a.address in code.addresses
    assert invite.expiry.text().startswith(f"One use, until {format_until(code.expires)}.")
    assert invite.error.text() == ""
    invite.copy_button.click()
    assert QApplication.clipboard().text() == invite.code

    gamma = Device(tmp_path, "gamma")
    gamma.start()
    joiner = make_tray(gamma.home)
    joiner.start()
    try:
        qtbot.waitUntil(lambda: joiner.snapshot is not None, timeout=WAIT_MS)
        joiner.fill_menu()
        find_action(joiner.menu, "Join a share…").trigger()
        join = joiner.dialogs.join
        assert join is not None
        join.code_box.setPlainText(QApplication.clipboard().text())  # as a paste does
        assert join.verdict.text().startswith(f"An invite to share {pair.share} from device ")
        assert not join.join_button.isEnabled()  # no folder yet
        join.folder.setText(str(gamma.folder))
        assert join.join_button.isEnabled()
        QTest.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
        assert join.progress.isVisibleTo(join)
        assert not join.code_box.isEnabled()
        qtbot.waitUntil(lambda: join.joined is not None, timeout=JOIN_WAIT_MS)
        assert join.joined is not None
        assert join.joined["share"] == pair.share
        assert Path(join.joined["path"]) == gamma.folder
        assert join.outcome.text() == f"Joined share {pair.share} at {join.joined['path']}."
        assert not join.progress.isVisibleTo(join)
        assert gamma.id in members(pair.a, pair.share)
        qtbot.waitUntil(
            lambda: pair.share in [r["id"] for r in joiner.window.shares.rows()], timeout=WAIT_MS
        )

        pair.a.apply_text("notes.md", "written after gamma joined. ", client_id=7)
        wait_for(lambda: gamma.text("notes.md") == "written after gamma joined. ",
                 "the note at the device that joined")  # fmt: skip
        assert (gamma.folder / "notes.md").exists()
    finally:
        joiner.stop()
        gamma.stop()


def test_mistyped_code_is_told_and_never_sent(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pair: Pair, tray: TrayApp
) -> None:
    asked: list[tuple[Any, ...]] = []
    ask = tray.link.ask

    def recording_ask(*args: Any, **kwargs: Any) -> Any:
        asked.append(args)
        return ask(*args, **kwargs)

    monkeypatch.setattr(tray.link, "ask", recording_ask)
    qtbot.waitUntil(lambda: tray.snapshot is not None, timeout=WAIT_MS)
    code = json.loads(cli(pair.a.home, "invite", pair.share, "--json").stdout)["code"]
    at = len(code) // 2 + (code[len(code) // 2] == "-")
    typo = code[:at] + ("C" if code[at] == "A" else "A") + code[at + 1 :]

    tray.window.join_button.click()
    join = tray.dialogs.join
    assert isinstance(join, JoinDialog)
    QTest.keyClicks(join.code_box, typo)  # typed: checked at each key
    assert join.code_box.toPlainText() == typo
    assert join.verdict.text() == CHECKSUM_SENTENCE
    join.folder.setText(str(tmp_path / "elsewhere"))
    assert not join.join_button.isEnabled()
    join.join()  # even if asked to, it does not send a code that does not check out
    assert not join.progress.isVisibleTo(join)
    assert join.outcome.text() == ""
    assert asked == []

    join.code_box.setPlainText(code[: len(code) // 3])
    assert join.verdict.text().endswith("is it cut short?")
    join.code_box.setPlainText(f"  {code.lower()}\n")  # any case, spaces around: fine
    assert join.verdict.text().startswith(f"An invite to share {pair.share}")
    assert join.join_button.isEnabled()
    assert asked == []

    # the daemon's own refusal comes back as one sentence: this code is alpha's own
    QTest.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not join.joining(), timeout=WAIT_MS)
    assert [a[1] for a in asked] == ["join"]
    assert join.outcome.text() == "This invite code was made by this device."
    assert join.joined is None
    assert join.join_button.isEnabled()  # free to try again
    assert not (tmp_path / "elsewhere").exists()


def test_invite_error_is_one_sentence_and_replaces_the_code(
    qtbot: QtBot, pair: Pair, tray: TrayApp
) -> None:
    qtbot.waitUntil(lambda: tray.snapshot is not None, timeout=WAIT_MS)
    tray.window.shares_view.selectRow(
        [r["id"] for r in tray.window.shares.rows()].index(pair.share)
    )
    tray.window.invite_button.click()
    invite = tray.dialogs.invite
    assert invite is not None
    assert invite.share_box.currentData() == pair.share
    qtbot.waitUntil(lambda: invite.code != "", timeout=WAIT_MS)  # asked at once
    pair.a.stop()
    qtbot.waitUntil(lambda: tray.snapshot is None, timeout=WAIT_MS)
    invite.make_button.click()
    qtbot.waitUntil(lambda: invite.error.text() != "", timeout=WAIT_MS)
    assert invite.error.text() == "No daemon is running."
    assert invite.code == ""
    assert not invite.copy_button.isEnabled()
    assert invite.make_button.isEnabled()
