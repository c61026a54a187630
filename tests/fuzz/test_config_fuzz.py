"""The config parser under hypothesis: any file gives a Config or one ConfigError
sentence, and a Config that loads saves and loads back the same."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2psync.config import default_config, load_config, save_config
from p2psync.errors import ConfigError
from p2psync.ids import DeviceId, ShareId

SHARE = str(ShareId.new())
DEVICE = str(DeviceId.from_certificate_der(b"fuzz"))
KEYS = ["version", "device", "name", "listen", "mdns", "peers", "shares", "id", "path",
        "members", "mode", "addresses", "device_id", "paused"]  # fmt: skip
plausible = st.sampled_from([SHARE, DEVICE, "send-receive", "receive-only", "bogus",
                             "127.0.0.1:22000", "[::1]:1", "host:99999", "", "/tmp/x", 1, 0,
                             -1, 2**70, True, 1.5])  # fmt: skip
leaves = plausible | st.text(max_size=20) | st.integers() | st.booleans()
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner,
                                                                  max_size=4),
    max_leaves=12,
)  # fmt: skip
documents = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


def check(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(data)
        try:
            config = load_config(path)
        except ConfigError as exc:
            assert str(exc).startswith(str(path))
            assert "\n" not in str(exc).strip() or "TOML" in str(exc)
            return
        save_config(path, config)
        assert load_config(path) == config


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_config_shaped_documents_load_or_fail_with_a_config_error(doc: dict[str, Any]) -> None:
    check(tomli_w.dumps(doc).encode())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_load_or_fail_with_a_config_error(data: bytes) -> None:
    check(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_valid_configs_load_or_fail_with_a_config_error(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        save_config(path, default_config(Path(tmp) / "share"))
        raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    check(bytes(raw))
