"""Managing shares, devices and members from the tray, through the tray's own code
path (window buttons, dialogs, menu) against real daemons, checked through the CLI;
and the management dialogs' layout (no widget laid over another)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QInputDialog
from pytestqt.qtbot import QtBot

from p2psync_tray.manage import AddShareDialog, MembersDialog
from p2psync_tray.state import TrayState
from p2psync_tray.tray import TrayApp
from tests.gui.fakes import FakeLink, sample_snapshot
from tests.support.daemons import cli, setup
from tests.support.tray import WAIT_MS, Pair, find_action
from tests.support.widgets import rect_in, settle, shown


def share_list(home: Path) -> dict[str, Any]:
    shares = json.loads(cli(home, "share", "list", "--json").stdout)["shares"]
    return {str(s["id"]): s for s in shares}


def add_through_dialog(qtbot: QtBot, tray: TrayApp, folder: Path) -> AddShareDialog:
    """Type ``folder`` into the tray's add dialog and press Add; wait for the answer."""
    dialog = tray.dialogs.open_add_share()
    dialog.outcome.setText("")
    dialog.folder.setText(str(folder))
    dialog.add_button.click()
    qtbot.waitUntil(lambda: bool(dialog.outcome.text()), timeout=WAIT_MS)
    return dialog


def test_add_and_remove_a_shared_folder(
    qtbot: QtBot, pair: Pair, tray: TrayApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    tray.window.show()
    tray.window.add_share_button.click()
    dialog = tray.dialogs.add_share
    assert dialog is not None
    assert dialog.isVisible()
    assert not dialog.add_button.isEnabled()  # nothing typed yet

    # what `p2psync share add` refuses, the dialog says in the daemon's sentence
    refused = {
        "missing": tmp_path / "no-such-folder",
        "home": pair.a.home,
        "nested": pair.a.folder / "inner",
        "marker": pair.a.folder / ".p2psync",
    }
    (pair.a.folder / "inner").mkdir()
    for why, folder in refused.items():
        add_through_dialog(qtbot, tray, folder)
        text = dialog.outcome.text()
        assert "Traceback" not in text, (why, text)
        assert "\n" not in text, (why, text)
        assert text.endswith("."), (why, text)
        assert text.count(". ") == 0 or why == "home", (why, text)
        cli_error = cli(pair.a.home, "share", "add", str(folder), check=False)
        assert cli_error.returncode == 2, (why, cli_error.stderr)
        said = cli_error.stderr.removeprefix("p2psync: ").strip()
        assert said.lower().startswith(text[:-1].lower()[:40]), (why, text, said)
    assert len(share_list(pair.a.home)) == 2  # the default share and the pair's

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "keep.txt").write_text("stays on disk\n")
    add_through_dialog(qtbot, tray, folder)
    assert dialog.added is not None
    share = str(dialog.added["id"])
    assert dialog.outcome.text() == f"Sharing {folder} as share {share}."
    assert share_list(pair.a.home)[share]["path"] == str(folder)
    qtbot.waitUntil(lambda: share in [r["id"] for r in tray.window.shares.rows()],
                    timeout=WAIT_MS)  # fmt: skip

    # remove it from the window: asked first, and its files stay
    asked: list[str] = []

    def confirm(parent: Any, row: Any) -> bool:
        asked.append(str(row["path"]))
        return len(asked) > 1  # cancelled the first time

    monkeypatch.setattr("p2psync_tray.dialogs.confirm_remove_share", confirm)
    row = [r["id"] for r in tray.window.shares.rows()].index(share)
    tray.window.shares_view.selectRow(row)
    tray.window.remove_share_button.click()
    assert asked == [str(folder)]
    assert share in share_list(pair.a.home)  # cancelled: still shared
    tray.window.remove_share_button.click()
    qtbot.waitUntil(lambda: share not in share_list(pair.a.home), timeout=WAIT_MS)
    assert (folder / "keep.txt").read_text() == "stays on disk\n"
    qtbot.waitUntil(lambda: share not in [r["id"] for r in tray.window.shares.rows()],
                    timeout=WAIT_MS)  # fmt: skip
    assert pair.share in share_list(pair.a.home)


def test_the_menu_offers_add_and_remove(qtbot: QtBot, pair: Pair, tray: TrayApp) -> None:
    qtbot.waitUntil(lambda: tray.snapshot is not None, timeout=WAIT_MS)
    tray.fill_menu()
    find_action(tray.menu, "Add a shared folder…").trigger()
    assert tray.dialogs.add_share is not None
    assert tray.dialogs.add_share.isVisible()
    assert find_action(tray.menu, "Remove this share…") is not None


def test_add_share_error_is_not_laid_over_the_folder(qtbot: QtBot) -> None:
    dialog = shown(qtbot, AddShareDialog(FakeLink()))  # type: ignore[arg-type]
    dialog.folder.setText("/home/ana")
    dialog._failed(
        "/home/ana holds this device's home (/home/ana/.config/p2psync): share a folder "
        "beside it, not one holding it"
    )
    settle()
    QApplication.processEvents()
    folder, outcome = rect_in(dialog.folder, dialog), rect_in(dialog.outcome, dialog)
    button = rect_in(dialog.add_button, dialog)
    assert not folder.intersects(outcome), (folder, outcome)
    assert not outcome.intersects(button), (outcome, button)
    assert outcome.height() >= dialog.outcome.heightForWidth(outcome.width())
    assert dialog.rect().contains(outcome)


def test_name_and_forget_a_peer(
    qtbot: QtBot, pair: Pair, tray: TrayApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    window = tray.window
    assert not window.name_peer_button.isEnabled()  # no peer selected
    beta = pair.b.status()["name"]
    row = [r["device_id"] for r in window.peers.rows()].index(pair.b.id)
    window.peers_view.selectRow(row)
    assert window.name_peer_button.isEnabled()

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("  the big desk ", True))
    window.name_peer_button.click()

    def shown_name() -> str:
        rows = json.loads(cli(pair.a.home, "peers", "--json").stdout)["peers"]
        return str(next(p for p in rows if p["device_id"] == pair.b.id)["display_name"])

    qtbot.waitUntil(lambda: shown_name() == "the big desk", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.peers.text(row, 0) == f"the big desk ({beta})",
                    timeout=WAIT_MS)  # fmt: skip
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("", True))
    window.name_peer_button.click()  # empty: back to the name it announces
    qtbot.waitUntil(lambda: window.peers.text(row, 0) == beta, timeout=WAIT_MS)
    assert shown_name() == ""

    # forget: asked first; a peer without static addresses is refused in one sentence
    failures: list[str] = []
    tray.link.failed.connect(lambda what, why: failures.append(f"{what}: {why}"))
    monkeypatch.setattr("p2psync_tray.dialogs.confirm_forget_peer", lambda parent, peer: True)
    setup(pair.a.home, "peer", "add", pair.b.id, "127.0.0.1:9")
    window.peers_view.selectRow(row)
    window.forget_peer_button.click()

    def addresses() -> list[str]:
        config = (pair.a.home / "config.toml").read_text()
        return [line for line in config.splitlines() if "127.0.0.1:9" in line]

    qtbot.waitUntil(lambda: not addresses(), timeout=WAIT_MS)
    window.peers_view.selectRow(row)
    window.forget_peer_button.click()  # nothing left to forget: the daemon says so
    qtbot.waitUntil(lambda: bool(failures), timeout=WAIT_MS)
    assert failures[0].startswith(f"forget device {pair.b.id}: device ")
    assert failures[0].endswith("has no static address to remove")


def test_members_of_a_share_and_changing_a_mode(qtbot: QtBot, pair: Pair, tray: TrayApp) -> None:
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    window = tray.window
    window.shares_view.selectRow([r["id"] for r in window.shares.rows()].index(pair.share))
    window.members_button.click()
    dialog = tray.dialogs.members
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.share_id == pair.share
    assert dialog.members.rowCount() == 1
    beta = pair.b.status()["name"]
    assert [dialog.members.text(0, c) for c in range(4)] == [
        beta,
        "send-receive",
        "in sync",
        pair.b.id,
    ]
    assert not dialog.set_button.isEnabled()  # no member picked
    dialog.view.selectRow(0)
    assert dialog.mode_box.currentData() == "send-receive"
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("receive-only"))
    dialog.set_button.click()

    def mode() -> str:
        members = share_list(pair.a.home)[pair.share]["members"]
        return str(next(m["mode"] for m in members if m["device_id"] == pair.b.id))

    qtbot.waitUntil(lambda: mode() == "receive-only", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.members.text(0, 1) == "receive-only", timeout=WAIT_MS)
    assert dialog.outcome.text() == "Mode set."
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("send-receive"))
    dialog.set_button.click()
    qtbot.waitUntil(lambda: mode() == "send-receive", timeout=WAIT_MS)
    tray.fill_menu()
    assert tray.dialogs.open_members(pair.share) is dialog  # the same share: the same dialog
    find_action(tray.menu, "Members…").trigger()  # the first share's submenu
    assert tray.snapshot is not None
    assert tray.dialogs.members is not None
    assert tray.dialogs.members.share_id == tray.snapshot.status["shares"][0]["id"]


def test_members_dialog_widgets_are_not_laid_over_each_other(qtbot: QtBot) -> None:
    share = sample_snapshot(0.0).status["shares"][1]
    dialog = shown(qtbot, MembersDialog(FakeLink(), share))  # type: ignore[arg-type]
    assert dialog.members.rowCount() == len(share["members"])
    dialog._done("device PPPPPPP is not a member of share d3f8h1j5n0 and cannot be changed")
    settle()
    parts = [dialog.intro, dialog.view, dialog.mode_box, dialog.set_button, dialog.outcome]
    rects = [rect_in(w, dialog) for w in parts]
    for i, one in enumerate(rects):
        assert dialog.rect().contains(one), (parts[i], one)
        for other in rects[i + 1 :]:
            assert not one.intersects(other), (one, other)
    assert rects[-1].height() >= dialog.outcome.heightForWidth(rects[-1].width())
    assert dialog.view.viewport().height() >= 2 * dialog.view.rowHeight(0)
