"""Real daemons with lowered chunking thresholds (``[docs]``), so that chunked files
of a few kilobytes can be tested: ``configure`` and ``linked_pair``."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w

from tests.support.daemons import Device, link, make_share, stop_all

CHUNKED_FILE_BYTES = 20_000
CHUNK_MAX_BYTES = 4_096
IDLE_UNLOAD_S = 4.0


LOWERED = {
    "idle_unload_s": IDLE_UNLOAD_S,
    "chunked_file_bytes": CHUNKED_FILE_BYTES,
    "chunk_max_bytes": CHUNK_MAX_BYTES,
}


def configure(device: Device, docs: dict[str, Any] = LOWERED) -> None:
    path = device.home / "config.toml"
    config: dict[str, Any] = tomllib.loads(path.read_text())
    config["docs"] = docs
    path.write_text(tomli_w.dumps(config))


@contextmanager
def linked_pair(
    tmp_path: Path, docs: dict[str, Any] | None = None
) -> Iterator[tuple[Device, Device]]:
    """Alice and bob, started with ``docs`` as their ``[docs]`` configuration (the
    lowered thresholds by default) and linked; stopped after."""
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    make_share([alice, bob])
    for device in (alice, bob):
        configure(device, LOWERED if docs is None else docs)
    try:
        for device in (alice, bob):
            device.start()
        link([alice, bob])
        yield alice, bob
    finally:
        stop_all([alice, bob])
