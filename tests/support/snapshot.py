"""Snapshot files for CLI output: compare with the committed copy, or rewrite it.

``assert_snapshot(name, text)`` compares ``text`` with
``tests/integration/cli/snapshots/<name>``; with
``P2PSYNC_UPDATE_SNAPSHOTS=1`` in the environment it writes the file instead. The
``Normaliser`` replaces what differs from run to run (device and share IDs, ports,
paths, times, byte counts) with stable placeholders, and re-aligns table columns so
that placeholders of another width keep the tables readable.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SNAPSHOT_DIR = Path(__file__).parents[1] / "integration" / "cli" / "snapshots"
UPDATE_ENV = "P2PSYNC_UPDATE_SNAPSHOTS"

SHARE_ID = re.compile(r"\b[a-z2-7]{5}(?:-[a-z2-7]{5,6}){4}\b")
PORT = re.compile(r"(127\.0\.0\.1):\d+")
AGO = re.compile(r"\b\d+ (?:s|min|h|days?) ago\b")
SIZE = re.compile(r"\b\d+(?:\.\d)? (?:B|KiB|MiB|GiB|TiB)(/s)?")
VARIABLE_NUMBERS = {
    "bytes_in", "bytes_out", "rate_in", "rate_out", "docs_loaded", "loaded_bytes", "bytes_received",
    "bytes_expected", "bytes_sent", "bytes_to_send",
}  # fmt: skip
TIMES = {"time", "connected_since", "last_seen"}


def assert_snapshot(name: str, text: str, *, directory: Path = SNAPSHOT_DIR) -> None:
    """Fail with a diff-friendly message unless ``text`` equals the snapshot (the file
    ``name`` in ``directory``: a generated page of docs/ is one too)."""
    path = directory / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path}; run with {UPDATE_ENV}=1 to write it"
    expected = path.read_text()
    assert text == expected, f"{name} differs from its snapshot:\n{text}\n--- expected:\n{expected}"


class Normaliser:
    """Stable placeholders for one test's variable values."""

    def __init__(
        self, root: Path, devices: dict[str, str], version: str, shares: Sequence[str] = ()
    ) -> None:
        self._root = str(root)
        self._devices = devices  # device ID -> placeholder letter
        self._version = version
        self._shares: dict[str, str] = {}
        for share_id in shares:  # numbered in this order, whichever output comes first
            self._share(share_id)

    def text(self, value: str) -> str:
        """Placeholders in a string (paths, IDs, ports)."""
        value = value.replace(self._root, "<TMP>")
        for device_id, letter in self._devices.items():
            value = value.replace(device_id, f"<DEVICE-{letter}>")
            value = value.replace(device_id[:7], f"<{letter}>")
        value = SHARE_ID.sub(lambda m: self._share(m.group(0)), value)
        return PORT.sub(r"\1:<PORT>", value)

    def human(self, output: str) -> str:
        """Placeholders in human output, tables re-aligned."""
        text = self.text(output).replace(f"p2psync {self._version}", "p2psync <VERSION>")
        text = AGO.sub("<AGO>", text)
        text = SIZE.sub(lambda m: "<RATE>" if m.group(1) else "<SIZE>", text)
        return _realign(text)

    def json(self, output: str) -> str:
        """Placeholders in JSON output, re-dumped with sorted keys."""
        return json.dumps(self._value(json.loads(output), ""), indent=2, sort_keys=True) + "\n"

    def _value(self, value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {k: self._value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v, key) for v in value]
        if isinstance(value, str):
            return "<VERSION>" if key == "daemon_version" else self.text(value)
        if key in TIMES and value:
            return "<TIME>"
        if key in VARIABLE_NUMBERS and value is not None:
            return "<N>"
        return value

    def _share(self, share_id: str) -> str:
        return self._shares.setdefault(share_id, f"<SHARE-{len(self._shares) + 1}>")


def _realign(text: str) -> str:
    """Re-pad columns (cells separated by two or more spaces) block by block."""
    blocks: list[list[str]] = [[]]
    for line in text.rstrip("\n").split("\n"):
        if line.strip():
            blocks[-1].append(line)
        else:
            blocks.append([])
    out: list[str] = []
    for block in blocks:
        indent = [len(line) - len(line.lstrip()) for line in block]
        rows = [re.split(r" {2,}", line.strip()) for line in block]
        widths: dict[int, int] = {}
        for row in rows:
            for index, cell in enumerate(row):
                widths[index] = max(widths.get(index, 0), len(cell))
        for pad, row in zip(indent, rows, strict=True):
            cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
            out.append((" " * pad + "  ".join(cells)).rstrip())
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
