"""A share's ``[shares.history]`` table: round trip, default left out, bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psync.config import Config, HistoryConfig, ShareConfig, load_config, save_config
from p2psync.errors import ConfigError
from p2psync.ids import ShareId


def test_history_round_trips_and_the_default_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    share = ShareConfig(ShareId.new(), tmp_path / "s", history=HistoryConfig("none", 30))
    save_config(path, Config("laptop", shares=(share,)))
    assert load_config(path).shares[0].history == HistoryConfig("none", 30)
    save_config(path, Config("laptop", shares=(ShareConfig(share.id, share.path),)))
    assert "max_age_days" not in path.read_text()
    assert load_config(path).shares[0].history == HistoryConfig()


@pytest.mark.parametrize(
    ("line", "message"),
    [('keep = "all"', "keep"), ("max_age_days = 0", "max_age_days")],
)
def test_bad_history_settings_are_refused(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "config.toml"
    save_config(path, Config("laptop", shares=(ShareConfig(ShareId.new(), tmp_path / "s"),)))
    path.write_text(path.read_text() + f"\n[shares.history]\n{line}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
