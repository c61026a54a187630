"""``p2psync service install|uninstall|status``: run the daemon as a systemd user service.

``install`` renders the unit shipped in the package (``p2psync/data/p2psync.service``)
with the command line of this installation (the interpreter of this virtual
environment, or the bundle's executable, and ``--home`` when one was given), writes it
to ``$XDG_CONFIG_HOME/systemd/user/`` (default ``~/.config``) and, when systemd runs
this machine, reloads the user manager and enables and starts the unit (unless
``--no-enable``: then only the files are written). ``--sandbox`` adds a drop-in
with filesystem and kernel sandboxing (docs/decisions.md says why it is opt-in). ``--tray``
also installs the tray's application entry, its autostart entry and its icons; it
refuses, changing nothing, when this installation has no tray (no ``p2psync-tray``, or
no PySide6: the ``tray`` extra), so that no desktop entry starts a tray that cannot run.
Where systemd is not running the files are still written and the command says how
to start the daemon by hand; a ``systemctl`` that fails is one sentence naming it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from p2psync.cli.context import Context, print_json
from p2psync.control.home import daemon_command
from p2psync.errors import P2PSyncError

UNIT_NAME = "p2psync.service"
SANDBOX_NAME = "sandbox.conf"  # the opt-in drop-in of --sandbox
TRAY_ENTRY = "p2psync-tray.desktop"
ICON_NAME = "p2psync"
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
NO_PYSIDE6 = "the tray needs PySide6: pip install 'p2psync[tray]'"
SYSTEMCTL_TIMEOUT_S = 60.0
SYSTEMD_RUNNING_MARKER = Path("/run/systemd/system")  # sd_booted(3)
_PLAIN_ARG = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


class ServiceError(P2PSyncError):
    """systemd refused to load, enable or disable the unit (names the command)."""


# -- what gets written -----------------------------------------------------------


def systemd_quote(arg: str) -> str:
    """``arg`` as one word of a unit's ``Exec`` line (systemd.service(5) quoting)."""
    if _PLAIN_ARG.fullmatch(arg):
        return arg
    escaped = arg.replace("%", "%%").replace("$", "$$")
    escaped = escaped.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def desktop_quote(arg: str) -> str:
    """``arg`` as one word of a desktop entry's ``Exec`` key (Desktop Entry spec:
    reserved characters quoted, then the value's own backslash escaping)."""
    if _PLAIN_ARG.fullmatch(arg):
        return arg
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    quoted = quoted.replace("\\", "\\\\").replace("\n", "\\n").replace("%", "%%")
    return f'"{quoted}"'


UNIT_WORKING_DIRECTORY = "/"


def render_unit(argv: list[str]) -> str:
    """The unit file that runs ``argv``, in a fixed working directory: a user unit
    otherwise runs in the home directory, where ``python -m p2psync`` would import a
    clone's ``p2psync/`` folder (``~/p2psync``) instead of the installed package."""
    template = _data("p2psync.service")
    exec_start = " ".join(systemd_quote(a) for a in argv)
    return template.replace(
        "ExecStart=@EXEC_START@",
        "# Not the home directory: a folder named p2psync there must not shadow the package.\n"
        f"WorkingDirectory={UNIT_WORKING_DIRECTORY}\nExecStart={exec_start}",
    )


def render_desktop_entry(tray: Path | str, *, autostart: bool) -> str:
    """The tray's application entry (or its autostart entry) running ``tray``."""
    text = _data(TRAY_ENTRY).replace("@EXEC@", desktop_quote(str(tray)))
    if autostart:
        text += "X-GNOME-Autostart-enabled=true\nX-GNOME-Autostart-Delay=5\n"
    return text


def _data(name: str) -> str:
    return (resources.files("p2psync") / "data" / name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Places:
    """Where the unit, the desktop entries and the icons go for this user (XDG)."""

    config: Path
    data: Path

    @classmethod
    def from_environment(cls) -> Places:
        home = Path.home()
        config = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        data = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
        return cls(Path(config), Path(data))

    @property
    def unit(self) -> Path:
        return self.config / "systemd" / "user" / UNIT_NAME

    @property
    def sandbox(self) -> Path:
        return self.unit.with_name(f"{UNIT_NAME}.d") / SANDBOX_NAME

    @property
    def application(self) -> Path:
        return self.data / "applications" / TRAY_ENTRY

    @property
    def autostart(self) -> Path:
        return self.config / "autostart" / TRAY_ENTRY

    def icons(self) -> dict[Path, str]:
        """Each installed icon path and the packaged icon it is a copy of."""
        theme = self.data / "icons" / "hicolor"
        icons = {theme / f"{n}x{n}" / "apps" / f"{ICON_NAME}.png": f"{n}.png" for n in ICON_SIZES}
        icons[theme / "scalable" / "apps" / f"{ICON_NAME}.svg"] = f"{ICON_NAME}.svg"
        return icons

    def tray_files(self) -> list[Path]:
        return [self.application, self.autostart, *self.icons()]


# -- systemd ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Systemctl:
    """``systemctl --user`` of this machine."""

    executable: str

    @classmethod
    def find(cls) -> Systemctl | None:
        """systemctl, if systemd is what runs this machine; None otherwise."""
        executable = shutil.which("systemctl")
        if executable is None or not SYSTEMD_RUNNING_MARKER.is_dir():
            return None
        return cls(executable)

    def run(self, *args: str) -> None:
        """Run one command; raises ServiceError with systemd's reason if it fails."""
        done = self._call(args)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise ServiceError(f"'systemctl --user {' '.join(args)}' failed: {reason}")

    def query(self, *args: str) -> str:
        """The answer of a query such as ``is-active`` (which exits non-zero for "no")."""
        return self._call(args).stdout.strip() or "unknown"

    def _call(self, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(  # noqa: S603 - a fixed executable and our own arguments
                [self.executable, "--user", *args],
                capture_output=True,
                text=True,
                timeout=SYSTEMCTL_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServiceError(f"cannot run 'systemctl --user {' '.join(args)}': {exc}") from exc


# -- the three commands ------------------------------------------------------------


def install(
    places: Places, argv: list[str], systemctl: Systemctl | None, *, sandbox: bool = False
) -> list[str]:
    """Write the unit for ``argv`` (with the sandboxing drop-in if ``sandbox``, without
    it otherwise) and enable and start it; returns what was done.

    A daemon already running from an older unit (another installation or ``--home``)
    is restarted so that the new one takes effect; an unchanged unit leaves it alone.
    """
    text = render_unit(argv)
    changed = not places.unit.is_file() or places.unit.read_text(encoding="utf-8") != text
    _write(places.unit, text.encode())
    done = [f"wrote {places.unit}"]
    if sandbox:
        drop_in = _data(SANDBOX_NAME).encode()
        changed = changed or not places.sandbox.is_file() or places.sandbox.read_bytes() != drop_in
        _write(places.sandbox, drop_in)
        done.append(f"wrote {places.sandbox}")
    elif places.sandbox.exists():
        _remove(places.sandbox)
        changed = True
        done.append(f"removed {places.sandbox}")
    if systemctl is not None:
        systemctl.run("daemon-reload")
        if changed:
            systemctl.run("try-restart", UNIT_NAME)  # only if it runs
        systemctl.run("enable", "--now", UNIT_NAME)
        done.append(f"enabled and started {UNIT_NAME} (logs: journalctl --user -u p2psync)")
    return done


def install_tray(places: Places, tray: Path) -> list[str]:
    """Write the tray's application and autostart entries and its icons."""
    _write(places.application, render_desktop_entry(tray, autostart=False).encode())
    _write(places.autostart, render_desktop_entry(tray, autostart=True).encode())
    icons = resources.files("p2psync") / "data" / "icons"
    for target, name in places.icons().items():
        _write(target, (icons / name).read_bytes())
    return [f"wrote {places.application}", f"wrote {places.autostart}", "installed the icons"]


def uninstall(places: Places, systemctl: Systemctl | None) -> list[str]:
    """Stop and disable the unit, then remove it and any tray files; returns what was done."""
    done: list[str] = []
    if places.unit.exists():
        if systemctl is not None:
            systemctl.run("disable", "--now", UNIT_NAME)
            done.append(f"stopped and disabled {UNIT_NAME}")
        places.unit.unlink()
        done.append(f"removed {places.unit}")
        if places.sandbox.exists():
            _remove(places.sandbox)
            done.append(f"removed {places.sandbox}")
        if systemctl is not None:
            systemctl.run("daemon-reload")
    for path in places.tray_files():
        if path.exists():
            path.unlink()
            done.append(f"removed {path}")
    return done or ["nothing to remove: the service is not installed"]


def status(places: Places, argv: list[str], systemctl: Systemctl | None) -> dict[str, object]:
    """Whether the unit is installed and current, and what systemd says of it."""
    installed = places.unit.is_file()
    current = installed and places.unit.read_text(encoding="utf-8") == render_unit(argv)
    result: dict[str, object] = {
        "unit": str(places.unit),
        "installed": installed,
        "up_to_date": current,
        "systemd": systemctl is not None,
        "enabled": None,
        "active": None,
        "sandbox": places.sandbox.is_file(),
        "tray_autostart": places.autostart.is_file(),
    }
    if systemctl is not None and installed:
        result["enabled"] = systemctl.query("is-enabled", UNIT_NAME)
        result["active"] = systemctl.query("is-active", UNIT_NAME)
    return result


def _remove(path: Path) -> None:
    """Remove ``path``, and its directory if that is left empty (a drop-in dir)."""
    path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def tray_command() -> Path | None:
    """The ``p2psync-tray`` of this installation, or None if it has no tray."""
    here = Path(sys.executable if getattr(sys, "frozen", False) else sys.argv[0])
    beside = here.with_name("p2psync-tray")
    if beside.is_file():
        return beside.absolute()
    found = shutil.which("p2psync-tray")
    return Path(found) if found else None


def has_qt() -> bool:
    """Whether PySide6 is installed here (found, not imported: the CLI never loads Qt)."""
    return importlib.util.find_spec("PySide6") is not None


# -- command line ----------------------------------------------------------------


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("service", help="run the daemon as a systemd user service")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("install", help="install, enable and start the user service")
    add.add_argument("--tray", action="store_true", help="also install the tray's menu entry")
    add.add_argument(
        "--no-enable", action="store_true", help="only write the files; do not call systemctl"
    )
    add.add_argument(
        "--sandbox",
        action="store_true",
        help="also make the system read-only to the daemon (needs user namespaces)",
    )
    add.set_defaults(func=run_install)
    remove = actions.add_parser("uninstall", help="stop and remove the user service")
    remove.set_defaults(func=run_uninstall)
    show = actions.add_parser("status", help="whether the service is installed and running")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_status)


def run_install(args: argparse.Namespace, ctx: Context) -> int:
    places = Places.from_environment()
    systemctl = None if args.no_enable else Systemctl.find()
    tray = tray_command() if args.tray else None
    if args.tray and tray is None:
        raise ServiceError("this installation has no p2psync-tray command to install")
    if args.tray and not has_qt():
        raise ServiceError(NO_PYSIDE6)
    done = install(places, daemon_command(ctx.home), systemctl, sandbox=args.sandbox)
    if tray is not None:
        done += install_tray(places, tray)
    print("\n".join(done))
    if args.no_enable:
        print(f"not enabled: 'systemctl --user enable --now {UNIT_NAME}' starts it")
    elif systemctl is None:
        print(
            "systemd is not running on this machine, so nothing was enabled: "
            "start the daemon with 'p2psync run'"
        )
    return 0


def run_uninstall(args: argparse.Namespace, ctx: Context) -> int:
    print("\n".join(uninstall(Places.from_environment(), Systemctl.find())))
    return 0


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    result = status(Places.from_environment(), daemon_command(ctx.home), Systemctl.find())
    if args.json:
        print_json(result)
        return 0
    if not result["installed"]:
        print(f"not installed ({result['unit']}): 'p2psync service install' sets it up")
        return 0
    state = "up to date" if result["up_to_date"] else "out of date: run 'p2psync service install'"
    print(f"installed {result['unit']} ({state})")
    if result["systemd"]:
        print(f"enabled: {result['enabled']}, active: {result['active']}")
    else:
        print("systemd is not running on this machine")
    return 0
