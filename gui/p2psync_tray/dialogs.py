"""The tray's dialogs: one of each open at a time (invite, join, add a folder, a
share's members, a share's history), and the confirmations before removing a share or
forgetting a device. Each asks the daemon through the ``DaemonLink`` it is given, and
reads the shares and peers from the tray's last snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from PySide6.QtWidgets import QWidget

from p2psync_tray.describe import peer_name
from p2psync_tray.history import HistoryWindow
from p2psync_tray.invites import InviteDialog, JoinDialog
from p2psync_tray.link import DaemonLink, Snapshot
from p2psync_tray.manage import (
    AddShareDialog,
    MembersDialog,
    confirm_forget_peer,
    confirm_remove_share,
)

Row = Mapping[str, Any]
ShareWindow = TypeVar("ShareWindow", MembersDialog, HistoryWindow)
"""A window of one share, one at a time (``TrayDialogs._for_share``)."""


class TrayDialogs:
    """The dialogs of one tray app (see the module docstring); ``parent`` is the
    window the confirmations are shown over, ``snapshot`` gives the last snapshot."""

    def __init__(
        self, link: DaemonLink, parent: QWidget, snapshot: Callable[[], Snapshot | None]
    ) -> None:
        self.link = link
        self.parent = parent
        self.snapshot = snapshot
        self.invite: InviteDialog | None = None
        self.join: JoinDialog | None = None
        self.add_share: AddShareDialog | None = None
        self.members: MembersDialog | None = None
        self.history: HistoryWindow | None = None

    def open_invite(self, share: str = "") -> InviteDialog:
        """Open the invite dialog on ``share`` (or the first share) and, when a share
        is given, ask for a code at once."""
        shares = self._shares()
        if self.invite is not None:
            self.invite.close()
        self.invite = InviteDialog(self.link, shares, share)
        present(self.invite)
        if share:
            self.invite.make_invite()
        return self.invite

    def open_join(self) -> JoinDialog:
        """Open the join dialog (the one already open, if any, keeps what was typed)."""
        if self.join is None:
            self.join = JoinDialog(self.link)
        present(self.join)
        return self.join

    def open_add_share(self) -> AddShareDialog:
        """Open the add-a-folder dialog (the one already open keeps what was typed)."""
        if self.add_share is None:
            self.add_share = AddShareDialog(self.link)
        present(self.add_share)
        return self.add_share

    def open_members(self, share: str) -> MembersDialog | None:
        """Open the members dialog of ``share`` (replacing one of another share)."""
        dialog = self._for_share(self.members, share, partial(MembersDialog, self.link))
        if dialog is not None:
            self.members = dialog
            present(dialog)
        return dialog

    def open_history(self, share: str) -> HistoryWindow | None:
        """Open the History window of ``share`` (replacing one of another share; the
        one of this share is brought up to date)."""
        snapshot = self.snapshot()
        own = str(snapshot.status.get("device_id", "")) if snapshot is not None else ""
        names = {str(p.get("device_id")): peer_name(p) for p in self._peers()}
        shown = self.history
        window = self._for_share(
            shown, share, lambda row: HistoryWindow(self.link, row, own, names)
        )
        if window is not None:
            if window is shown:
                window.refresh()
            self.history = window
            present(window)
        return window

    def show_share(self) -> None:
        """Bring the open members dialog up to date with the last snapshot."""
        members = self.members
        share = self.share_row(members.share_id) if members is not None else None
        if members is not None and share is not None:
            members.show_share(share)

    def ask_remove_share(self, share: str) -> None:
        """Remove ``share`` once the user confirms (``share remove``; its files stay)."""
        row = self.share_row(share)
        if row is not None and confirm_remove_share(self.parent, row):
            self.link.request(f"remove share {share}", "share.remove", share=share)

    def ask_forget_peer(self, device: str) -> None:
        """Forget a device's static addresses once the user confirms (``peer remove``)."""
        rows = [p for p in self._peers() if str(p.get("device_id")) == device]
        if rows and confirm_forget_peer(self.parent, rows[0]):
            self.link.request(f"forget device {device}", "peer.remove", device=device)

    def share_row(self, share: str) -> Row | None:
        """``share`` as the last snapshot says, or None."""
        rows = [s for s in self._shares() if str(s.get("id")) == share]
        return rows[0] if rows else None

    def _shares(self) -> list[Row]:
        """The shares of the last snapshot's ``status`` reply."""
        snapshot = self.snapshot()
        return list(snapshot.status.get("shares") or []) if snapshot is not None else []

    def _peers(self) -> list[Row]:
        """The peers of the last snapshot's ``peers`` reply."""
        snapshot = self.snapshot()
        return list(snapshot.peers.get("peers") or []) if snapshot is not None else []

    def _for_share(
        self, shown: ShareWindow | None, share: str, make: Callable[[Row], ShareWindow]
    ) -> ShareWindow | None:
        """The window of ``share``: ``shown`` if it is that share's, else one ``make``
        makes (``shown`` is closed); None if the last snapshot has no such share."""
        row = self.share_row(share)
        if row is None:
            return None
        if shown is not None and shown.share_id == share:
            return shown
        if shown is not None:
            shown.close()
        return make(row)


def present(widget: QWidget) -> None:
    """Show ``widget`` in front, focused."""
    widget.show()
    widget.raise_()
    widget.activateWindow()
