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


def test_max_bytes_round_trips_and_is_left_out_when_unset(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    share = ShareConfig(ShareId.new(), tmp_path / "s", history=HistoryConfig(max_bytes=5_000))
    save_config(path, Config("laptop", shares=(share,)))
    assert load_config(path).shares[0].history == HistoryConfig(max_bytes=5_000)
    unset = ShareConfig(share.id, share.path, history=HistoryConfig("none"))
    save_config(path, Config("laptop", shares=(unset,)))
    assert "max_bytes =" not in path.read_text()
    assert load_config(path).shares[0].history.max_bytes is None


@pytest.mark.parametrize("value", ["-1", '"1 GB"', "1.5", "true"])
def test_a_bad_max_bytes_is_refused_in_one_sentence(tmp_path: Path, value: str) -> None:
    path = tmp_path / "config.toml"
    save_config(path, Config("laptop", shares=(ShareConfig(ShareId.new(), tmp_path / "s"),)))
    path.write_text(path.read_text() + f"\n[shares.history]\nmax_bytes = {value}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    sentence = "history max_bytes must be a whole number of bytes, at least 0"
    assert str(refused.value) == f"{path}: {sentence}"
