"""The tray app's tests' helpers: a pair of running devices (``Pair``), a tray app that
polls fast (``make_tray``), its menus read and searched (``menu_texts``,
``find_action``), a share picked in its window (``select_share``), a fresh home's
config (``write_config``), and how long a test waits on Qt (``WAIT_MS``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from p2psync_tray.tray import TrayApp
from tests.support.daemons import Device

FAST_POLL_S = 0.2
FAST_MOMENT_S = 0.3
WAIT_MS = 30_000


@dataclass
class Pair:
    """Two running devices sharing one folder, connected to each other."""

    a: Device
    b: Device
    share: str

    def connected(self) -> bool:
        return self.b.id in self.a.status()["connected"]


def write_config(home: Path, name: str) -> None:
    """A config for a fresh home: loopback only, no LAN discovery, no share."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[device]\nname = "{name}"\n\n[listen]\naddress = "127.0.0.1:0"\nmdns = false\n'
    )


def menu_texts(menu: QMenu) -> list[str]:
    """Every action's text, submenus' actions indented under their title."""
    texts: list[str] = []
    for action in menu.actions():
        if action.isSeparator():
            continue
        texts.append(action.text())
        sub = action.menu()
        if isinstance(sub, QMenu):
            texts.extend(f"  {t}" for t in menu_texts(sub))
    return texts


def find_action(menu: QMenu, text: str) -> QAction:
    for action in menu.actions():
        if action.text() == text:
            return action
        sub = action.menu()
        if isinstance(sub, QMenu):
            with_sub = [a for a in sub.actions() if a.text() == text]
            if with_sub:
                return with_sub[0]
    raise AssertionError(f"no menu entry {text!r} in {menu_texts(menu)}")


def make_tray(home: Path) -> TrayApp:
    """A tray app of ``home`` that polls and filters fast (not started)."""
    return TrayApp(home, poll_s=FAST_POLL_S, moment_s=FAST_MOMENT_S)


def select_share(tray: TrayApp, share: str) -> None:
    """Pick ``share`` in the status window's shares table."""
    window = tray.window
    window.shares_view.selectRow([r["id"] for r in window.shares.rows()].index(share))
