"""The tray's persisted settings: notification switches and ignored devices.

Kept with QSettings in an INI file beside the daemon's configuration
(``<home>/tray.ini``), so each ``--home`` has its own and nothing else is touched.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from p2psync_tray.notifications import Kind

SETTINGS_FILE = "tray.ini"


class TraySettings:
    """Switches that survive a restart of the tray. Every change is saved at once."""

    def __init__(self, home: Path) -> None:
        self._settings = QSettings(str(home / SETTINGS_FILE), QSettings.Format.IniFormat)

    def notify(self, kind: Kind) -> bool:
        """Whether notifications of ``kind`` are shown (all are, until switched off)."""
        return self._bool(f"notify/{kind.value}", default=True)

    def set_notify(self, kind: Kind, on: bool) -> None:
        self._settings.setValue(f"notify/{kind.value}", on)
        self._settings.sync()

    def ignored_devices(self) -> set[str]:
        """Device IDs of pending devices the user chose to ignore."""
        value = self._settings.value("pending/ignored", "")
        return {d for d in str(value or "").split(",") if d}

    def ignore_device(self, device_id: str) -> None:
        ignored = self.ignored_devices() | {device_id}
        self._settings.setValue("pending/ignored", ",".join(sorted(ignored)))
        self._settings.sync()

    def _bool(self, key: str, *, default: bool) -> bool:
        value = self._settings.value(key, default)
        if isinstance(value, str):  # the INI format reads every value back as text
            return value.lower() in {"true", "1", "yes"}
        return bool(value)
