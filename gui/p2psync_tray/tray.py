"""The tray icon and its menu: wires the daemon link, the state filter, the status
window, notifications and settings together.

Everything here runs in the Qt thread; the daemon is reached only through
``DaemonLink`` (whose requests are queued, so the GUI never waits on the daemon).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from p2psync.control.home import Home
from p2psync_tray.asks import DaemonAsks
from p2psync_tray.describe import peer_name, peer_state, share_label, share_state, state_text
from p2psync_tray.dialogs import TrayDialogs, present
from p2psync_tray.icons import state_icon, syncing_frames
from p2psync_tray.launcher import DAEMON_LOG, ended_sentence, start_daemon
from p2psync_tray.link import POLL_S, DaemonLink, Snapshot
from p2psync_tray.notifications import KIND_TEXT, Kind, Notification, notification_for
from p2psync_tray.settings import TraySettings
from p2psync_tray.state import MOMENT_S, StateFilter, TrayState, overall_state
from p2psync_tray.window import StatusWindow

log = logging.getLogger(__name__)

TICK_MS = 100  # how often the shown state is re-evaluated (and the animation turns)
MESSAGE_MS = 5000
WATCH_MS = 200  # how often a daemon process of ours is checked for having ended
STOPPED = "the daemon stopped"


class TrayApp(QObject):
    """The running tray app of one device home.

    Signals: ``state_shown(TrayState)`` when the icon changes state;
    ``notified(Notification)`` when a desktop notification is shown.
    """

    state_shown = Signal(object)
    notified = Signal(object)

    def __init__(
        self, home: Path | None, *, poll_s: float = POLL_S, moment_s: float = MOMENT_S
    ) -> None:
        super().__init__()
        self.home_arg = home
        self.home = Home.resolve(home)
        self.settings = TraySettings(self.home.root)
        self.link = DaemonLink(self.home.socket_path, poll_s=poll_s)
        self.filter = StateFilter(moment_s)
        self.window = StatusWindow()
        self.snapshot: Snapshot | None = None
        self.dialogs = TrayDialogs(self.link, self.window, lambda: self.snapshot)
        self.asks = DaemonAsks(self.link)
        self.daemon_process: subprocess.Popen[bytes] | None = None
        self.daemon_answered = False  # the daemon we started answered at least once
        self.daemon_ended = ""  # why our daemon is gone, until another one answers
        self.errors_seen_at = 0.0
        self.shown_state: TrayState | None = None
        self._frames = syncing_frames()
        self._frame = 0
        self._connected_count = -1

        self.tray = QSystemTrayIcon(state_icon(TrayState.NOT_RUNNING))
        self.menu = QMenu()
        self.tray.setContextMenu(self.menu)
        self.menu.aboutToShow.connect(self.fill_menu)
        self.tray.activated.connect(self._activated)

        self.link.snapshot.connect(self._on_snapshot)
        self.link.down.connect(self._on_down)
        self.link.up.connect(self._on_up)
        self.link.event_received.connect(self._on_event)
        self.link.failed.connect(self._on_failed)
        self._connect_window()

        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._watch = QTimer(self)
        self._watch.setInterval(WATCH_MS)
        self._watch.timeout.connect(self._watch_daemon)

    def _connect_window(self) -> None:
        """What the status window asks for, to the methods that do it."""
        window, dialogs, asks = self.window, self.dialogs, self.asks
        window.start_daemon_requested.connect(self.start_daemon)
        window.accept_requested.connect(asks.accept_pending)
        window.ignore_requested.connect(self.ignore_pending)
        window.invite_requested.connect(dialogs.open_invite)
        window.join_requested.connect(dialogs.open_join)
        window.rename_requested.connect(asks.rename)
        window.pause_share_requested.connect(asks.pause_share)
        window.add_share_requested.connect(dialogs.open_add_share)
        window.remove_share_requested.connect(dialogs.ask_remove_share)
        window.name_peer_requested.connect(asks.name_peer)
        window.members_requested.connect(dialogs.open_members)
        window.history_requested.connect(dialogs.open_history)
        window.forget_peer_requested.connect(dialogs.ask_forget_peer)
        window.shown.connect(self._errors_seen)

    def start(self) -> None:
        self.link.start()
        self._timer.start()
        self._tick()
        self.fill_menu()
        self.tray.show()

    def stop(self) -> None:
        self._timer.stop()
        self._watch.stop()
        self.link.stop()
        self.tray.hide()

    # -- from the daemon ---------------------------------------------------------------

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        measured = self.measured_state(snapshot.time)
        self.window.show_snapshot(snapshot, self.settings.ignored_devices(), measured)
        self.dialogs.show_share()
        peers = snapshot.peers.get("peers") or []
        connected = sum(1 for p in peers if p.get("connected"))
        if connected != self._connected_count:
            self._connected_count = connected
            log.info("device %s: %d of %d peers connected, %d shares",
                     snapshot.status.get("device_id"), connected, len(peers),
                     len(snapshot.status.get("shares") or []))  # fmt: skip
        if not self.menu.isVisible():
            self.fill_menu()
        self._tick()

    def _on_up(self, hello: Mapping[str, Any]) -> None:
        log.info("connected to daemon %s (%s)", hello.get("device_id"), hello.get("daemon_version"))
        self.daemon_ended = ""
        if self.daemon_process is not None and self.daemon_process.poll() is None:
            self.daemon_answered = True

    def _on_down(self, reason: str) -> None:
        log.info("no daemon for %s: %s", self.home.root, reason)
        self.snapshot = None
        self._connected_count = -1
        self.window.show_down(self.daemon_ended or reason)
        self._tick()
        if not self.menu.isVisible():
            self.fill_menu()

    def _on_event(self, event: Mapping[str, Any]) -> None:
        self.window.add_event(event)
        history = self.dialogs.history
        if (
            history is not None
            and history.isVisible()
            and event.get("type") == "file-restored"
            and event.get("share") == history.share_id
        ):
            history.refresh()  # restored elsewhere (the CLI, another window): a new version
        if event.get("type") != "share-in-sync":
            self.link.poll_now()
        notification = notification_for(event)
        if notification is not None and self.settings.notify(notification.kind):
            self.notify(notification)

    def _on_failed(self, what: str, why: str) -> None:
        log.warning("could not %s: %s", what, why)
        self.tray.showMessage(
            "p2psync", f"Could not {what}: {why}", QSystemTrayIcon.MessageIcon.Warning, MESSAGE_MS
        )

    def notify(self, notification: Notification) -> None:
        icon = (QSystemTrayIcon.MessageIcon.Warning if notification.warning
                else QSystemTrayIcon.MessageIcon.Information)  # fmt: skip
        self.tray.showMessage(notification.title, notification.text, icon, MESSAGE_MS)
        self.notified.emit(notification)

    # -- the icon ------------------------------------------------------------------------

    def measured_state(self, now: float) -> TrayState:
        status = self.snapshot.status if self.snapshot is not None else None
        return overall_state(status, now=now, errors_seen_at=self.errors_seen_at)

    def _tick(self) -> None:
        now = time.time()
        shown = self.filter.update(self.measured_state(now), now)
        if shown is not self.shown_state:
            self.shown_state = shown
            log.info("tray state: %s", shown.value)
            self.tray.setIcon(state_icon(shown))
            self.tray.setToolTip(f"p2psync — {state_text(shown)}")
            self.state_shown.emit(shown)
        if self.filter.animate(now):
            self._frame = (self._frame + 1) % len(self._frames)
            self.tray.setIcon(self._frames[self._frame])

    def _errors_seen(self) -> None:
        self.errors_seen_at = time.time()
        if self.snapshot is not None:
            self.window.show_state(self.measured_state(self.errors_seen_at))
        self._tick()

    # -- the menu ------------------------------------------------------------------------

    def fill_menu(self) -> None:
        """Rebuild the menu from the last snapshot (it is rebuilt each time it opens)."""
        menu, now = self.menu, time.time()
        for action in menu.actions():
            sub = action.menu()
            if sub is not None:  # clear() deletes the actions, not the submenus
                sub.deleteLater()
        menu.clear()
        shown = self.shown_state or TrayState.NOT_RUNNING
        _label(menu, f"p2psync — {state_text(shown)}")
        if self.snapshot is None:
            _action(menu, "Start daemon", self.start_daemon)
        else:
            self._fill_peers_and_shares(menu, self.snapshot, now)
            _action(menu, "Join a share…", self.dialogs.open_join)
            _action(menu, "Add a shared folder…", self.dialogs.open_add_share)
        menu.addSeparator()
        _action(menu, "Open status window", self.show_window)
        notify_menu = menu.addMenu("Notifications")
        for kind in Kind:
            action = _action(notify_menu, KIND_TEXT[kind], partial(self.toggle_notify, kind))
            action.setCheckable(True)
            action.setChecked(self.settings.notify(kind))
        menu.addSeparator()
        _action(menu, "Quit", self.quit)

    def _fill_peers_and_shares(self, menu: QMenu, snapshot: Snapshot, now: float) -> None:
        menu.addSeparator()
        _label(menu, "Peers")
        peers = snapshot.peers.get("peers") or []
        for peer in peers:
            _action(menu, f"{peer_name(peer)} — {peer_state(peer, now)}", self.show_window)
        if not peers:
            _label(menu, "no peers yet")
        menu.addSeparator()
        _label(menu, "Shares")
        dialogs, asks = self.dialogs, self.asks
        for share in snapshot.status.get("shares") or []:
            sub = menu.addMenu(f"{share_label(share)} — {share_state(share)}")
            path = str(share.get("path", ""))
            _action(sub, "Open folder", partial(self.open_folder, path))
            share_id = str(share.get("id", ""))
            _action(sub, "Invite a device…", partial(dialogs.open_invite, share_id))
            if share.get("paused"):
                _action(sub, "Resume this share", partial(asks.resume, share_id))
            else:
                _action(sub, "Pause this share", partial(asks.pause, share_id))
            _action(sub, "Members…", partial(dialogs.open_members, share_id))
            _action(sub, "History…", partial(dialogs.open_history, share_id))
            _action(sub, "Remove this share…", partial(dialogs.ask_remove_share, share_id))
        menu.addSeparator()
        if snapshot.status.get("paused"):
            _action(menu, "Resume sync", asks.resume)
        else:
            _action(menu, "Pause sync", asks.pause)

    # -- what the user asks for ---------------------------------------------------------

    def toggle_notify(self, kind: Kind) -> None:
        self.set_notify(kind, not self.settings.notify(kind))

    def set_notify(self, kind: Kind, on: bool) -> None:
        self.settings.set_notify(kind, on)
        if not self.menu.isVisible():
            self.fill_menu()

    def ignore_pending(self, device: str) -> None:
        """Hide a pending device from now on (the tray remembers; the daemon still
        refuses it, as it refuses every device in no share)."""
        self.settings.ignore_device(device)
        if self.snapshot is not None:
            self.window.show_snapshot(self.snapshot, self.settings.ignored_devices())

    def open_folder(self, path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def start_daemon(self) -> None:
        try:
            self.daemon_process = start_daemon(self.home_arg, self.home.root)
        except OSError as exc:
            self._on_failed("start the daemon", str(exc))
            return
        self.daemon_answered = False
        self.daemon_ended = ""
        self.window.show_down("Starting the daemon…")
        self._watch.start()

    def _watch_daemon(self) -> None:
        """Tell how a daemon process of ours ended: a clean stop after it answered is
        "the daemon stopped"; anything else is a failed start or a crash, said with
        the log's last error line and where the log is."""
        process = self.daemon_process
        code = process.poll() if process is not None else 0
        if code is None:
            return
        self._watch.stop()
        answered, self.daemon_answered = self.daemon_answered, False
        if code == 0 and answered:
            return
        sentence = ended_sentence(code, self.home.root / DAEMON_LOG, started=answered)
        log.warning("%s", sentence)
        self.daemon_ended = sentence
        if self.snapshot is None:
            self.window.show_down(sentence)
        self.tray.showMessage("p2psync", sentence, QSystemTrayIcon.MessageIcon.Warning, MESSAGE_MS)
        self.notified.emit(Notification(Kind.ERRORS, "p2psync", sentence, warning=True))

    def show_window(self) -> None:
        present(self.window)

    def quit(self) -> None:
        self.stop()
        QApplication.quit()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_window()


def _label(menu: QMenu, text: str) -> QAction:
    action = menu.addAction(text)
    action.setEnabled(False)
    return action


def _action(menu: QMenu, text: str, slot: Callable[[], Any]) -> QAction:
    action = menu.addAction(text)
    action.triggered.connect(lambda _checked=False: slot())
    return action
