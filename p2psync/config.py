"""Configuration: one device's settings, shares and peers, as frozen values.

The file is ``config.toml`` in the device's home directory (``--home``). Loading
validates everything and raises ConfigError naming the file and the field; nothing
else in the program parses TOML. Changes are made by building a new Config
(``dataclasses.replace``) and saving it atomically.
"""

from __future__ import annotations

import difflib
import enum
import ipaddress
import os
import re
import socket
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from p2psync.errors import ConfigError, InvalidIdError
from p2psync.ids import DeviceId, ShareId

CONFIG_VERSION = 1
DEFAULT_PORT = 22070
DEFAULT_APPS_PORT = 22071
"""Where local apps connect (``[apps] port``, docs/apps.md); a free one if it is taken."""
DEFAULT_APPS_BIND = "127.0.0.1"
DEFAULT_LISTEN = f"0.0.0.0:{DEFAULT_PORT}"
MAX_CONFIG_BYTES = 1024 * 1024
MAX_NAME_CHARS = 64
DEFAULT_IDLE_UNLOAD_S = 60.0
"""A doc unused this long leaves memory (``[docs] idle_unload_s``, docs/architecture.md)."""
MAX_IDLE_UNLOAD_S = 86_400.0
MAX_CHUNKING_BYTES = 1 << 40
"""Upper bound of ``[docs] chunked_file_bytes`` and ``chunk_max_bytes``."""
MAX_SEND_KIB_S = 10_000_000
"""Upper bound of ``[listen] max_send_kib_s`` (about 10 GB/s)."""


class FolderMode(enum.StrEnum):
    """What a member may do in a share (docs/concepts.md, "Modes")."""

    SEND_RECEIVE = "send-receive"
    RECEIVE_ONLY = "receive-only"
    SEND_ONLY = "send-only"


@dataclass(frozen=True, slots=True)
class Member:
    """One device that belongs to a share, and its mode."""

    device_id: DeviceId
    mode: FolderMode = FolderMode.SEND_RECEIVE


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """A share's ``[shares.history]``: which past versions of its files are kept
    (``keep`` "staggered" or "none", up to ``max_age_days``; a binary file's past
    versions up to ``max_bytes``, None: no cap; docs/history.md)."""

    keep: str = "staggered"
    max_age_days: int = 365
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class ShareConfig:
    """A shared folder: its ID, where it lives here, and who else holds it."""

    id: ShareId
    path: Path
    members: tuple[Member, ...] = ()
    history: HistoryConfig = HistoryConfig()

    def member(self, device_id: DeviceId) -> Member | None:
        """The membership of ``device_id``, or None if it is not a member."""
        return next((m for m in self.members if m.device_id == device_id), None)


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """A device we know, with the static addresses to dial it at (may be empty)."""

    device_id: DeviceId
    addresses: tuple[str, ...] = ()
    name: str = ""


DEFAULT_AWARENESS_TIMEOUT_S = 30.0
"""y-protocols' ``outdatedTimeout``: presence not renewed this long is removed."""


@dataclass(frozen=True, slots=True)
class AppsConfig:
    """``[apps]``: the local y-websocket endpoint for Yjs apps (docs/apps.md)."""

    enabled: bool = True
    port: int = DEFAULT_APPS_PORT
    bind: str = DEFAULT_APPS_BIND
    """An IP address; one that is not loopback is used only because the file says so."""
    allowed_origins: tuple[str, ...] = ()
    """Web origins (``http://localhost:5173``) whose pages may connect; a request
    without an ``Origin`` header (a native app) is always allowed."""
    awareness_timeout_s: float = DEFAULT_AWARENESS_TIMEOUT_S
    """An app's awareness state not renewed this long is removed (y-protocols' 30 s)."""

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.bind).is_loopback


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the daemon is configured with."""

    device_name: str
    listen: str = DEFAULT_LISTEN
    mdns: bool = True
    peers: tuple[PeerConfig, ...] = ()
    shares: tuple[ShareConfig, ...] = field(default=())
    idle_unload_s: float = DEFAULT_IDLE_UNLOAD_S
    chunked_file_bytes: int | None = None
    """``[docs] chunked_file_bytes``: text files above this are chunked docs (None: the
    mirror's default, ``mirror.chunkfile.CHUNKED_FILE_BYTES``)."""
    chunk_max_bytes: int | None = None
    """``[docs] chunk_max_bytes``: appends close a chunk past this (None: the default,
    ``mirror.chunked.CHUNK_MAX_BYTES``)."""
    apps: AppsConfig = AppsConfig()
    max_send_kib_s: int = 0
    """``[listen] max_send_kib_s``: the most KiB a second sent to each peer (0: no
    limit)."""

    def share(self, share_id: ShareId) -> ShareConfig | None:
        """The share with ``share_id``, or None."""
        return next((s for s in self.shares if s.id == share_id), None)

    def peer(self, device_id: DeviceId) -> PeerConfig | None:
        """The peer entry of ``device_id``, or None."""
        return next((p for p in self.peers if p.device_id == device_id), None)

    def with_share(self, share: ShareConfig) -> Config:
        """A copy with ``share`` added, or replacing the share with the same ID."""
        others = tuple(s for s in self.shares if s.id != share.id)
        return replace(self, shares=(*others, share))

    def without_share(self, share_id: ShareId) -> Config:
        """A copy without the share ``share_id``."""
        return replace(self, shares=tuple(s for s in self.shares if s.id != share_id))

    def with_peer(self, peer: PeerConfig) -> Config:
        """A copy with ``peer`` added, or replacing the entry of the same device."""
        others = tuple(p for p in self.peers if p.device_id != peer.device_id)
        return replace(self, peers=(*others, peer))


def default_config(share_dir: Path) -> Config:
    """The configuration of a first run: one default share at ``share_dir``."""
    name = socket.gethostname()[:MAX_NAME_CHARS] or "p2psync"
    share = ShareConfig(ShareId.new(), share_dir.resolve())
    return Config(device_name=name, shares=(share,))


def parse_address(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (IPv6 as ``[addr]:port``); raises ConfigError if malformed."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{text!r} is not an address of the form HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


# A hostname label (RFC 1123): letters, digits and inner hyphens, at most 63 of them.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
MAX_HOSTNAME_CHARS = 253


def check_address(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` a person typed (``peer add``), checked strictly: the host an
    IPv4 literal, an IPv6 literal in brackets or a hostname, the port 1-65535. Raises
    ConfigError with one sentence naming what is wrong."""
    example = "write HOST:PORT, like 192.168.1.5:22070 or [fe80::1]:22070"
    if "://" in text:
        raise ConfigError(f"{text!r} has a scheme; {example}")
    if any(c.isspace() for c in text):
        raise ConfigError(f"{text!r} contains a space; {example}")
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ConfigError(f"{text!r} has no port; {example}")
    if not host:
        raise ConfigError(f"{text!r} has no host; {example}")
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"the port {port_text!r} of {text!r} is not a number from 1 to 65535")
    port = int(port_text)
    if host.startswith("[") or host.endswith("]"):
        if not (host.startswith("[") and host.endswith("]") and _is_ip(host[1:-1], 6)):
            raise ConfigError(f"{host!r} in {text!r} is not an IPv6 address in brackets")
        return host[1:-1], port
    if ":" in host:
        if _is_ip(host, 6):
            raise ConfigError(f"the IPv6 address in {text!r} needs brackets: [{host}]:{port}")
        raise ConfigError(f"{text!r} has more than one ':'; {example}")
    if all(c.isdigit() or c == "." for c in host):
        if not _is_ip(host, 4):
            raise ConfigError(f"{host!r} in {text!r} is not an IPv4 address")
        return host, port
    name = host.removesuffix(".")
    labels = name.split(".")
    if len(name) > MAX_HOSTNAME_CHARS or not all(_HOST_LABEL.fullmatch(x) for x in labels):
        raise ConfigError(f"{host!r} in {text!r} is not an IP address or a hostname")
    return host, port


def _is_ip(text: str, version: int) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address.version == version


def check_device_name(name: object) -> str:
    """A device name a person chose (``p2psync name``): what peers see in the hello.
    1 to MAX_NAME_CHARS printable characters, no space at either end. Raises
    ConfigError with one sentence naming what is wrong."""
    if not isinstance(name, str) or not name:
        raise ConfigError("a device name cannot be empty")
    if len(name) > MAX_NAME_CHARS:
        raise ConfigError(f"a device name is at most {MAX_NAME_CHARS} characters, not {len(name)}")
    if not name.isprintable():
        raise ConfigError(f"the device name {name!r} holds a control character")
    if name != name.strip():
        raise ConfigError(f"the device name {name!r} starts or ends with a space")
    return name


# -- reading and writing ---------------------------------------------------------


def load_config(path: Path) -> Config:
    """Read and validate ``path``. Raises ConfigError with the file and the problem."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: configuration is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
        return _from_toml(doc)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except (ConfigError, InvalidIdError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def save_config(path: Path, config: Config) -> None:
    """Write ``config`` to ``path`` atomically (temp file, fsync, rename, dir fsync)."""
    data = tomli_w.dumps(_to_toml(config)).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _to_toml(config: Config) -> dict[str, Any]:
    return {
        "version": CONFIG_VERSION,
        "device": {"name": config.device_name},
        "listen": {
            "address": config.listen,
            "mdns": config.mdns,
            **({"max_send_kib_s": config.max_send_kib_s} if config.max_send_kib_s else {}),
        },
        "peers": [
            {"device_id": str(p.device_id), "addresses": list(p.addresses), "name": p.name}
            for p in config.peers
        ],
        **({"docs": docs} if (docs := _docs_toml(config)) else {}),
        **({"apps": apps} if (apps := _apps_toml(config.apps)) else {}),
        "shares": [
            {
                "id": str(s.id),
                "path": str(s.path),
                "members": [
                    {"device_id": str(m.device_id), "mode": m.mode.value} for m in s.members
                ],
                **({} if s.history == HistoryConfig() else {"history": _history_toml(s)}),
            }
            for s in config.shares
        ],
    }


def _history_toml(share: ShareConfig) -> dict[str, Any]:
    """A share's ``[shares.history]`` table."""
    table: dict[str, Any] = {"keep": share.history.keep,
                             "max_age_days": share.history.max_age_days}  # fmt: skip
    if share.history.max_bytes is not None:
        table["max_bytes"] = share.history.max_bytes
    return table


def _docs_toml(config: Config) -> dict[str, Any]:
    """The ``[docs]`` table: only what differs from the defaults."""
    docs: dict[str, Any] = {}
    if config.idle_unload_s != DEFAULT_IDLE_UNLOAD_S:
        docs["idle_unload_s"] = config.idle_unload_s
    for key in ("chunked_file_bytes", "chunk_max_bytes"):
        if (value := getattr(config, key)) is not None:
            docs[key] = value
    return docs


def _apps_toml(apps: AppsConfig) -> dict[str, Any]:
    """The ``[apps]`` table: only what differs from the defaults."""
    default = AppsConfig()
    table: dict[str, Any] = {}
    for key in ("enabled", "port", "bind", "awareness_timeout_s"):
        if getattr(apps, key) != getattr(default, key):
            table[key] = getattr(apps, key)
    if apps.allowed_origins:
        table["allowed_origins"] = list(apps.allowed_origins)
    return table


def _apps(table: dict[str, Any]) -> AppsConfig:
    _only(table, "apps", ("enabled", "port", "bind", "allowed_origins", "awareness_timeout_s"))
    port = table.get("port", DEFAULT_APPS_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError("'apps.port' must be a port number in [0, 65535] (0: any free port)")
    bind = _str(table, "bind", DEFAULT_APPS_BIND)
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        raise ConfigError(f"'apps.bind' must be an IP address, not {bind!r}") from None
    origins = tuple(_str_item(o, "apps.allowed_origins") for o in _array(table, "allowed_origins"))
    for origin in origins:
        if not re.fullmatch(r"[a-z][a-z0-9+.-]*://[^/\s]+", origin):
            raise ConfigError(
                f"'apps.allowed_origins' holds {origin!r}: an origin is SCHEME://HOST[:PORT]"
            )
    timeout = table.get("awareness_timeout_s", DEFAULT_AWARENESS_TIMEOUT_S)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 3600:
        raise ConfigError("'apps.awareness_timeout_s' must be a number of seconds in (0, 3600]")
    return AppsConfig(_bool(table, "enabled", default=True), port, bind, origins, float(timeout))


def _from_toml(doc: dict[str, Any]) -> Config:
    version = doc.get("version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        raise ConfigError(f"configuration version {version!r} is not supported")
    _only(doc, "", ("version", "device", "listen", "peers", "shares", "docs", "apps"))
    device = _table(doc, "device")
    _only(device, "device", ("name",))
    listen = _table(doc, "listen")
    _only(listen, "listen", ("address", "mdns", "max_send_kib_s"))
    _only(_table(doc, "docs"), "docs", ("idle_unload_s", "chunked_file_bytes", "chunk_max_bytes"))
    peers = tuple(_peer(p) for p in _array(doc, "peers"))
    shares = tuple(_share(s) for s in _array(doc, "shares"))
    if len({s.id for s in shares}) != len(shares):
        raise ConfigError("a share ID appears twice")
    _check_folders_apart(shares)
    address = _str(listen, "address", DEFAULT_LISTEN)
    parse_address(address)
    return Config(
        device_name=_str(device, "name", socket.gethostname())[:MAX_NAME_CHARS],
        listen=address,
        mdns=_bool(listen, "mdns", default=True),
        max_send_kib_s=_max_send_kib_s(listen),
        peers=peers,
        shares=shares,
        idle_unload_s=_idle_unload_s(_table(doc, "docs")),
        chunked_file_bytes=_bytes_or_none(_table(doc, "docs"), "chunked_file_bytes"),
        chunk_max_bytes=_bytes_or_none(_table(doc, "docs"), "chunk_max_bytes"),
        apps=_apps(_table(doc, "apps")),
    )


def _check_folders_apart(shares: tuple[ShareConfig, ...]) -> None:
    """Refuse two shares of one folder, or one inside the other (symlinks followed):
    each would take the other's files and ``.p2psync`` logs for its own. ``share add``
    refuses them too; this is for a configuration written by hand."""
    folders = [(share, _real(share.path)) for share in shares]
    for i, (first, one) in enumerate(folders):
        for second, other in folders[i + 1 :]:
            if one == other:
                raise ConfigError(
                    f"shares {first.id} and {second.id} have the same folder {one}: "
                    "a folder can be in one share only"
                )
            for (outer, around), (inner, within) in (
                ((first, one), (second, other)),
                ((second, other), (first, one)),
            ):
                if within.is_relative_to(around):
                    raise ConfigError(
                        f"the folder {within} of share {inner.id} is inside the folder "
                        f"{around} of share {outer.id}: a folder can be in one share only"
                    )


def _real(path: Path) -> Path:
    """``path`` with its symlinks followed, or as written where they cannot be (a loop,
    a byte no path can hold: the share reports its folder when it starts)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return Path(os.path.normpath(path))


def _bytes_or_none(table: dict[str, Any], key: str) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_CHUNKING_BYTES:
        raise ConfigError(f"'docs.{key}' must be a number of bytes in (0, {MAX_CHUNKING_BYTES}]")
    return value


def _max_send_kib_s(table: dict[str, Any]) -> int:
    value = table.get("max_send_kib_s", 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEND_KIB_S:
        raise ConfigError(
            f"'listen.max_send_kib_s' must be a whole number of KiB per second in "
            f"[0, {MAX_SEND_KIB_S}] (0: no limit), not {value!r}"
        )
    return value


def _idle_unload_s(table: dict[str, Any]) -> float:
    value = table.get("idle_unload_s", DEFAULT_IDLE_UNLOAD_S)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not 0 < value <= MAX_IDLE_UNLOAD_S
    ):
        raise ConfigError(
            f"'docs.idle_unload_s' must be a number of seconds in (0, {MAX_IDLE_UNLOAD_S:g}]"
        )
    return float(value)


def _peer(table: dict[str, Any]) -> PeerConfig:
    if not isinstance(table, dict):
        raise ConfigError("each entry of 'peers' must be a table")
    _only(table, "peers", ("device_id", "addresses", "name"))
    addresses = tuple(_str_item(a, "peers.addresses") for a in _array(table, "addresses"))
    for address in addresses:
        parse_address(address)
    return PeerConfig(DeviceId.parse(_str(table, "device_id")), addresses, _str(table, "name", ""))


def _share(table: dict[str, Any]) -> ShareConfig:
    if not isinstance(table, dict):
        raise ConfigError("each entry of 'shares' must be a table")
    _only(table, "shares", ("id", "path", "members", "history"))
    path = Path(_str(table, "path"))
    if not path.is_absolute():
        raise ConfigError(f"share path {str(path)!r} is not absolute")
    members = tuple(_member(m) for m in _array(table, "members"))
    history = _history(table)
    return ShareConfig(ShareId.parse(_str(table, "id")), path, members, history)


def _member(table: Any) -> Member:
    _only(table, "shares.members", ("device_id", "mode"))
    mode = parse_mode(_str(table, "mode", "send-receive"))
    return Member(DeviceId.parse(_str(table, "device_id")), mode)


def _history(share: dict[str, Any]) -> HistoryConfig:
    """The ``history`` table of a share, checked."""
    table = _table(share, "history")
    _only(table, "shares.history", ("keep", "max_age_days", "max_bytes"))
    keep = _str(table, "keep", "staggered")
    if keep not in ("staggered", "none"):
        raise ConfigError(f'history keep {keep!r} is not "staggered" or "none"')
    age = table.get("max_age_days", 365)
    if not isinstance(age, int) or isinstance(age, bool) or age < 1:
        raise ConfigError("history max_age_days must be a whole number of days, at least 1")
    cap = table.get("max_bytes")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
        raise ConfigError("history max_bytes must be a whole number of bytes, at least 0")
    return HistoryConfig(keep, age, cap)


def parse_mode(text: object) -> FolderMode:
    """The folder mode named ``text``; ConfigError (a UsageError) naming the modes."""
    try:
        return FolderMode(str(text))
    except ValueError:
        modes = ", ".join(m.value for m in FolderMode)
        raise ConfigError(f"folder mode {text!r} is not one of {modes}") from None


def _only(table: object, where: str, known: tuple[str, ...]) -> None:
    """Refuse a key of ``table`` (at ``where``) that is none of ``known``: a typo
    such as ``mdsn = false`` would otherwise leave the setting at its default,
    unnoticed. A ``table`` that is not a table is left to its reader, which says so."""
    for key in table if isinstance(table, dict) else ():
        if key not in known:
            name = f"{where}.{key}" if where else key
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            raise ConfigError(f"unknown key {name!r} ({hint})")


def _table(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key!r} must be a table")
    return value


def _array(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{key!r} must be an array")
    return value


def _str(table: Any, key: str, default: str | None = None) -> str:
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table holding {key!r}")
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"{key!r} is missing")
    return _str_item(value, key)


def _str_item(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key!r} must be a string")
    return value


def _bool(table: dict[str, Any], key: str, *, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key!r} must be true or false")
    return value
