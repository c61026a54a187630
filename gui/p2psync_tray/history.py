"""The History window of one share (docs/history.md): its files, deleted ones too,
a file's versions, a coloured diff from a version to the current text, and Restore
after a confirmation. A binary file's and an app doc's versions are listed with
their sizes and no diff (they have no text); a binary file's are restored as a new
save of their bytes, an app doc's are not restored in place.

Everything comes from the daemon through the link (``history.files``,
``history.deleted``, ``history``, ``history.diff``, ``restore``); the window asks,
shows the answers, and says a refusal in the daemon's sentence.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from p2psync_tray.describe import as_sentence, format_ago, format_bytes, share_label
from p2psync_tray.invites import _message, _say
from p2psync_tray.link import DaemonLink, Reply
from p2psync_tray.manage import ask_yes
from p2psync_tray.models import KEY_ROLE, Column, Row, RowsModel
from p2psync_tray.window import _buttons, _group, table_view

WINDOW_SIZE = (1000, 660)  # fits a 1024x768 screen with a panel
KIND_WORDS = {"local save": "saved", "remote change": "changed by a peer", "delete": "deleted"}
ADDED_STYLE = "background-color: #e6ffec; color: #03491b"
REMOVED_STYLE = "background-color: #ffebe9; color: #82071e"
HUNK_STYLE = "background-color: #ddf4ff; color: #0a3069"
HEADER_STYLE = "font-weight: bold; color: #57606a"


def diff_html(diff: str) -> str:
    """A unified diff as HTML: added lines green, removed lines red, hunks blue."""
    if not diff:
        return "<p><i>This version has the same text as the file now.</i></p>"
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = HEADER_STYLE
        elif line.startswith("+"):
            style = ADDED_STYLE
        elif line.startswith("-"):
            style = REMOVED_STYLE
        elif line.startswith("@@"):
            style = HUNK_STYLE
        else:
            style = ""
        lines.append(f'<span style="{style}">{html.escape(line) or "&nbsp;"}</span>')
    return '<pre style="margin: 0">' + "<br>".join(lines) + "</pre>"


VERSIONED = ("text", "chunked")
"""The kinds of files whose versions have a text, shown as a diff."""
FILE_KIND_WORDS = {"binary": "binary file", "ydoc": "app doc"}
"""The kinds of files whose versions have no text, as the window names them."""
RESTORABLE = ("text", "chunked", "binary")
"""The kinds of files a version is restored in place of (an app doc's is not)."""


def no_text_sentence(path: str, kind: str) -> str:
    """What the diff pane says for a file whose versions have no text (one sentence)."""
    if kind == "binary":
        return (f"{path} is a binary file: its versions have no text to compare, so no diff "
                "is shown; Restore saves the picked version's bytes as a new version.")  # fmt: skip
    return (f"{path} is an app doc: its versions have no text to compare and it is not "
            "restored in place (p2psync restore --to OUT writes a version elsewhere).")  # fmt: skip


def _file_state(row: Row, now: float) -> str:
    kind = FILE_KIND_WORDS.get(str(row.get("kind")), "")
    if not row.get("gone"):
        return kind
    when = row.get("deleted")
    gone = f"deleted {format_ago(when, now)}" if when else "deleted"
    return f"{kind}, {gone}" if kind else gone


def _devices(row: Row) -> list[str]:
    """The devices that made a version (several when edits of each coalesced)."""
    return [str(row.get("device", "")), *map(str, row.get("others", []))]


def _changes(row: Row) -> str:
    """+N -M for a text file's version; a binary file's or app doc's has no text."""
    if row.get("file_kind") not in VERSIONED:
        return "whole file"
    return f"+{row.get('added', 0)} -{row.get('removed', 0)}"


class FilesModel(RowsModel):
    """A share's files, then its deleted files, keyed by path."""

    columns = (
        Column("File", lambda r, now: str(r.get("path", ""))),
        Column("State", _file_state),
    )

    def key(self, row: Row) -> str:
        return str(row.get("path", ""))


class VersionsModel(RowsModel):
    """A file's versions, newest first, keyed by number."""

    def __init__(self, own_device: str = "", names: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.own_device = own_device
        self.names = dict(names or {})
        """Device ID -> the name shown for it (the peers' names as the tray knows them)."""
        self.columns = (
            Column("Version", lambda r, now: str(r.get("number", ""))),
            Column("When", lambda r, now: format_ago(r.get("time"), now)),
            Column("What", lambda r, now: KIND_WORDS.get(str(r.get("kind")), str(r.get("kind")))),
            Column("Device", lambda r, now: ", ".join(map(self._device, _devices(r)))),
            Column("Size", lambda r, now: format_bytes(r.get("size", 0))),
            Column("Changes", lambda r, now: _changes(r)),
        )

    def _device(self, device: str) -> str:
        if device == self.own_device:
            return "this device"
        return self.names.get(device) or device.split("-", maxsplit=1)[0]

    def key(self, row: Row) -> str:
        return str(row.get("number", ""))


class HistoryWindow(QWidget):
    """The History window of one share. ``refresh`` asks for its files again."""

    def __init__(
        self,
        link: DaemonLink,
        share: Mapping[str, Any],
        own_device: str = "",
        names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._link = link
        self._replies: dict[str, Reply] = {}
        self.share_id = str(share.get("id", ""))
        self.setWindowTitle(f"History of {share_label(share)}")
        self.resize(*WINDOW_SIZE)
        self.files = FilesModel()
        self.versions = VersionsModel(own_device, names)
        self._live: list[Row] = []
        self._deleted: list[Row] = []

        self.intro = QLabel(
            f"{share_label(share)} ({share.get('path')}): pick a file, then a version to "
            "see what changed from it to now. Restore brings the file back to a version as "
            "a new edit, synced to every device; edits made elsewhere meanwhile are kept."
        )
        self.intro.setWordWrap(True)
        self.files_view = table_view(self.files, max_rows=None)
        self.files_view.selectionModel().selectionChanged.connect(self._file_picked)
        self.versions_view = table_view(self.versions, max_rows=None)
        self.versions_view.selectionModel().selectionChanged.connect(self._version_picked)
        self.diff_view = QTextEdit()
        self.diff_view.setReadOnly(True)
        self.diff_view.setFont(QFont("monospace"))
        self.diff_view.setLineWrapMode(QTextEdit.LineWrapMode.NoWrap)
        self.outcome = _message()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.restore_button = QPushButton("Restore this version…")
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self.ask_restore)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(_group("Versions", self.versions_view))
        right.addWidget(_group("Changes from this version to now", self.diff_view))
        right.setSizes([220, 320])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(_group("Files", self.files_view))
        split.addWidget(right)
        split.setSizes([320, 680])
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(split, 1)
        layout.addWidget(self.outcome)
        layout.addWidget(_buttons(self.refresh_button, self.restore_button))
        self.refresh()

    # -- asking the daemon --------------------------------------------------------------

    def _ask(self, what: str, method: str, on_done: Any, **params: Any) -> None:
        """One call; ``on_done`` must be a bound method (then the reply reaches it in
        the Qt thread). The newest reply of each method is kept until it comes."""
        self._replies[method] = self._link.ask(
            what, method, on_done=on_done, on_failed=self._failed, share=self.share_id, **params
        )

    def refresh(self) -> None:
        """Ask for the share's files and deleted files, and the picked file's versions
        (the selection is kept)."""
        self._ask("list the share's files", "history.files", self._files_came)
        self._ask("list the share's deleted files", "history.deleted", self._deleted_came)
        if self.selected_file() is not None:
            self._file_picked()

    def _files_came(self, result: Mapping[str, Any]) -> None:
        self._live = [dict(f) for f in result.get("files") or []]
        self._show_files()

    def _deleted_came(self, result: Mapping[str, Any]) -> None:
        self._deleted = [{**f, "gone": True} for f in result.get("files") or []]
        self._show_files()

    def _show_files(self) -> None:
        picked = self.selected_file()
        self.files.set_rows([*self._live, *self._deleted])
        paths = [str(r.get("path")) for r in self.files.rows()]
        if paths and (picked is None or picked not in paths):
            picked = paths[0]
        if picked is not None:
            self.files_view.selectRow(paths.index(picked))

    def selected_file(self) -> str | None:
        rows = self.files_view.selectionModel().selectedRows()
        return str(rows[0].data(KEY_ROLE)) if rows else None

    def selected_version(self) -> int | None:
        rows = self.versions_view.selectionModel().selectedRows()
        return int(rows[0].data(KEY_ROLE)) if rows else None

    def selected_kind(self) -> str:
        """The kind of the picked file ("text", "chunked", "binary", "ydoc"; "" if none)."""
        path = self.selected_file()
        found = [r for r in self.files.rows() if str(r.get("path")) == path]
        return str(found[0].get("kind", "text")) if found else ""

    def _file_picked(self, *_: Any) -> None:
        path = self.selected_file()
        self.diff_view.clear()
        self.restore_button.setEnabled(False)
        if path is None:
            self.versions.set_rows([])
            return
        self._ask(f"list the versions of {path}", "history", self._versions_came, doc=path)

    def _versions_came(self, result: Mapping[str, Any]) -> None:
        if result.get("path") != self.selected_file():
            return  # another file was picked meanwhile
        picked = self.selected_version()
        kind = self.selected_kind()
        self.versions.set_rows([{**v, "file_kind": kind} for v in result.get("versions") or []])
        numbers = [int(r.get("number", 0)) for r in self.versions.rows()]
        if picked not in numbers:  # by default the version before the newest: the last change
            picked = numbers[min(1, len(numbers) - 1)] if numbers else None
        if picked is not None:
            self.versions_view.selectRow(numbers.index(picked))

    def _version_picked(self, *_: Any) -> None:
        number, path = self.selected_version(), self.selected_file()
        row = self._version_row(number)
        kind = self.selected_kind()
        self.restore_button.setEnabled(
            row is not None and row.get("kind") != "delete" and kind in RESTORABLE
        )
        if number is None or path is None:
            self.diff_view.clear()
            return
        if kind not in VERSIONED:  # a sentence, wrapped to the view, not lines of a diff
            self.diff_view.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
            self.diff_view.setPlainText(no_text_sentence(path, kind))
            return
        self._ask(f"diff version {number} of {path}", "history.diff", self._diff_came,
                  doc=path, version=number)  # fmt: skip

    def _version_row(self, number: int | None) -> Row | None:
        found = [r for r in self.versions.rows() if r.get("number") == number]
        return found[0] if found else None

    def _diff_came(self, result: Mapping[str, Any]) -> None:
        shown = (result.get("version") or {}).get("number")
        if shown == self.selected_version():
            self.diff_view.setLineWrapMode(QTextEdit.LineWrapMode.NoWrap)
            self.diff_view.setHtml(diff_html(str(result.get("diff") or "")))

    # -- restoring ----------------------------------------------------------------------

    def ask_restore(self) -> None:
        """Restore the picked version once the user confirms."""
        number, path = self.selected_version(), self.selected_file()
        if number is None or path is None:
            return
        if not confirm_restore(self, path, number, binary=self.selected_kind() == "binary"):
            return
        self.restore_button.setEnabled(False)
        self._ask(f"restore {path}", "restore", self._restored, doc=path, version=number)

    def _restored(self, result: Mapping[str, Any]) -> None:
        number = (result.get("restored") or {}).get("number")
        path = self.selected_file()
        if result.get("changed"):
            _say(self.outcome, f"{path} is back to version {number} (a new edit, synced to "
                 "your other devices).", error=False)  # fmt: skip
        else:
            held = "bytes" if self.selected_kind() == "binary" else "text"
            _say(self.outcome, f"{path} already holds the {held} of version {number}.",
                 error=False)  # fmt: skip
        self.refresh()

    def _failed(self, why: str) -> None:
        _say(self.outcome, as_sentence(why), error=True)


def confirm_restore(parent: QWidget, path: str, number: int, *, binary: bool = False) -> bool:
    """Ask before a file is restored; say what a restore does and does not do."""
    what = (
        "Its bytes then are saved as a new version, synced to your other devices. A binary "
        "file is not merged: a save made elsewhere after this one wins over it, and the "
        "bytes it has now stay in the history as a version you can restore."
        if binary
        else "The change from now back to that version is made as a new edit, synced to your "
        "other devices. Edits made elsewhere meanwhile are kept, and the text it has now "
        "stays in the history as a version you can restore."
    )
    return ask_yes(parent, "Restore this version",
                   f"Bring {path} back to version {number}?\n\n{what}")  # fmt: skip
