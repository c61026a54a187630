"""Write the service and desktop files for system-wide installs (distribution packages).

They are the package's own templates (``p2psync/data/``) rendered for commands on
PATH in ``/usr/bin``, exactly as ``p2psync service install`` renders them for one
user; ``tests/packaging/test_files.py`` checks that the committed copies are current.
Run by ``make packaging-files``.
"""

from __future__ import annotations

from pathlib import Path

from p2psync.cli.service import TRAY_ENTRY, UNIT_NAME, render_desktop_entry, render_unit

PACKAGING = Path(__file__).resolve().parent
SYSTEM_DAEMON = ["/usr/bin/p2psync", "run"]
SYSTEM_TRAY = "/usr/bin/p2psync-tray"


def rendered() -> dict[Path, str]:
    """Each file under packaging/ and the text it must hold."""
    return {
        PACKAGING / "systemd" / UNIT_NAME: render_unit(SYSTEM_DAEMON),
        PACKAGING / "desktop" / TRAY_ENTRY: render_desktop_entry(SYSTEM_TRAY, autostart=False),
        PACKAGING / "autostart" / TRAY_ENTRY: render_desktop_entry(SYSTEM_TRAY, autostart=True),
    }


def main() -> None:
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(PACKAGING.parent)}")


if __name__ == "__main__":
    main()
