"""Probes of real daemons (``daemons.Device``): a file synced to every device, a save
taken into its doc, a doc's guid in the manifest, a share's status and members, pause and
resume."""

from __future__ import annotations

import json
from typing import Any

from p2psync.mirror.manifest import MANIFEST_GUID, read_entries
from p2psync.storage import read_updates
from p2psync.storage.compaction import replay
from p2psync.storage.layout import log_path
from tests.support.daemons import Device, cli, wait_for
from tests.support.mirror import holds


def synced_file(devices: list[Device], name: str, text: str) -> None:
    """Write ``name`` on the first device and wait until every device holds it."""
    (devices[0].folder / name).write_text(text, encoding="utf-8")
    for device in devices[1:]:
        wait_for(holds(device.folder / name, text.encode()), f"{name} at {device.home.name}")


def pause(devices: list[Device]) -> None:
    for device in devices:
        cli(device.home, "pause")


def resume(devices: list[Device]) -> None:
    for device in devices:
        cli(device.home, "resume")


def wait_saved(device: Device, name: str, text: str) -> None:
    """Wait until the daemon of ``device`` took the save of ``name`` into its doc."""
    wait_for(lambda: device.text(name) == text, f"the save of {name} in {device.home.name}'s doc")


def share_status(device: Device) -> dict[str, Any]:
    shares: list[dict[str, Any]] = device.status()["shares"]
    return next(s for s in shares if s["path"] == str(device.folder))


def members(device: Device, share: str) -> dict[str, str]:
    """The members of ``share`` that ``device`` knows, each with its mode (none when
    it holds no such share)."""
    rows: list[dict[str, Any]] = json.loads(cli(device.home, "share", "list", "--json").stdout)[
        "shares"
    ]
    row = next((r for r in rows if r["id"] == share), None)
    return {m["device_id"]: m["mode"] for m in row["members"]} if row else {}


def loaded(device: Device) -> int:
    """How many docs are in memory now (idle ones leave it after ``IDLE_UNLOAD_S``)."""
    count: int = share_status(device)["docs_loaded"]
    return count


def live_guid(device: Device, path: str) -> str | None:
    """The doc of ``path`` in the manifest's log on disk, None before it is there."""
    doc = replay(read_updates(log_path(device.folder, MANIFEST_GUID)))
    entries, _ = read_entries(doc)
    return next((e.guid for e in entries.values() if e.path == path and not e.deleted), None)


def guid_of(device: Device, path: str) -> str:
    """The doc of ``path``, once the manifest's log names it (a new file's sync record
    can be on disk a moment before its manifest entry: the entries of a batch are
    stored together at its end)."""
    wait_for(lambda: live_guid(device, path) is not None, f"{path} in the manifest")
    guid = live_guid(device, path)
    assert guid is not None
    return guid
