"""Configuration: round trips, and every bad value is a ConfigError naming file and field."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.config import (
    AppsConfig,
    Config,
    FolderMode,
    Member,
    PeerConfig,
    ShareConfig,
    check_address,
    check_device_name,
    default_config,
    load_config,
    parse_address,
    save_config,
)
from p2psync.errors import ConfigError
from p2psync.ids import DeviceId, ShareId

DEVICE = DeviceId.from_certificate_der(b"a certificate")


def test_round_trip(tmp_path: Path) -> None:
    share = ShareConfig(ShareId.new(), tmp_path / "s", (Member(DEVICE, FolderMode.RECEIVE_ONLY),))
    config = Config(
        "laptop", "127.0.0.1:1234", False, (PeerConfig(DEVICE, ("10.0.0.1:1",)),), (share,)
    )
    save_config(tmp_path / "config.toml", config)
    assert load_config(tmp_path / "config.toml") == config


@pytest.mark.parametrize(
    ("bad", "said"),
    [("-1", "-1"), ("1.5", "1.5"), ("true", "True"), ('"64"', "'64'"), ("10000001", "10000001")],
)
def test_the_send_limit_round_trips_defaults_to_no_limit_and_refuses_nonsense(
    tmp_path: Path, bad: str, said: str
) -> None:
    path = tmp_path / "config.toml"
    save_config(path, Config("laptop", max_send_kib_s=64))
    assert "max_send_kib_s = 64" in path.read_text()
    assert load_config(path).max_send_kib_s == 64
    save_config(path, Config("laptop"))
    assert "max_send_kib_s" not in path.read_text()  # no limit: not written out
    assert load_config(path).max_send_kib_s == 0
    path.write_text(f"version = 1\n[listen]\nmax_send_kib_s = {bad}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert str(refused.value) == (
        f"{path}: 'listen.max_send_kib_s' must be a whole number of KiB per second in "
        f"[0, 10000000] (0: no limit), not {said}"
    )


def test_idle_unload_time_round_trips_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(path, Config("laptop", idle_unload_s=2.5))
    assert "idle_unload_s = 2.5" in path.read_text()
    assert load_config(path).idle_unload_s == 2.5
    save_config(path, Config("laptop"))
    assert "docs" not in path.read_text()  # the default is not written out
    assert load_config(path).idle_unload_s == 60.0


def test_chunking_sizes_round_trip_and_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(path, Config("laptop", chunked_file_bytes=5000, chunk_max_bytes=700))
    loaded = load_config(path)
    assert (loaded.chunked_file_bytes, loaded.chunk_max_bytes) == (5000, 700)
    assert load_config(path).idle_unload_s == 60.0
    path.write_text(path.read_text().replace("5000", "-1"))
    with pytest.raises(ConfigError, match=r"docs\.chunked_file_bytes"):
        load_config(path)


def test_apps_section_round_trips_and_defaults_to_loopback(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(path, Config("laptop"))
    assert "apps" not in path.read_text()  # the defaults are not written out
    apps = load_config(path).apps
    assert (apps.enabled, apps.port, apps.bind, apps.allowed_origins) == (
        True, 22071, "127.0.0.1", ())  # fmt: skip
    assert apps.awareness_timeout_s == 30.0  # y-protocols' outdatedTimeout
    assert apps.loopback
    custom = AppsConfig(False, 0, "0.0.0.0", ("http://localhost:5173",), 2.5)
    save_config(path, Config("laptop", apps=custom))
    assert load_config(path).apps == custom
    assert not custom.loopback


def test_default_config_has_one_share_and_no_members(tmp_path: Path) -> None:
    config = default_config(tmp_path / "P2PSync")
    assert [s.path for s in config.shares] == [tmp_path / "P2PSync"]
    assert config.shares[0].members == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version = 2", "version 2"),
        ("[listen]\naddress = 'nowhere'", "HOST:PORT"),
        ("[listen]\nmdns = 'yes'", "'mdns' must be true or false"),
        ("[[peers]]\ndevice_id = 'ABC'", "not a device ID"),
        ("[[shares]]\nid = 'x'\npath = '/tmp/x'", "not a share ID"),
        ("[[shares]]\nid = 'aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-a'\npath = 'relative'", "not absolute"),
        ("shares = 3", "'shares' must be an array"),
        ("this is = not toml =", "not valid TOML"),
        ("[docs]\nidle_unload_s = 0", "'docs.idle_unload_s' must be a number"),
        ("[docs]\nidle_unload_s = 'soon'", "'docs.idle_unload_s' must be a number"),
        ("[docs]\nidle_unload_s = true", "'docs.idle_unload_s' must be a number"),
        ("docs = 1", "'docs' must be a table"),
        ("[apps]\nport = 70000", "'apps.port' must be a port number"),
        ("[apps]\nbind = 'localhost'", "'apps.bind' must be an IP address"),
        ("[apps]\nallowed_origins = ['localhost:5173']", "an origin is SCHEME://HOST[:PORT]"),
        ("[apps]\nenabled = 'yes'", "'enabled' must be true or false"),
        ("[apps]\nawareness_timeout_s = 0", "'apps.awareness_timeout_s' must be a number"),
        ("[apps]\nawareness_timeout_s = '30'", "'apps.awareness_timeout_s' must be a number"),
        ("[listen]\nmdsn = false", "unknown key 'listen.mdsn' (did you mean 'mdns'?)"),
        ("[listen2]\naddress = '0.0.0.0:1'", "unknown key 'listen2' (did you mean 'listen'?)"),
        ("[device]\ncolour = 'red'", "unknown key 'device.colour' (known: name)"),
        ("[[peers]]\ndevice = 'x'", "unknown key 'peers.device'"),
        ("[[shares]]\nid = 'x'\npth = '/tmp/x'", "unknown key 'shares.pth'"),
        (
            "[[shares]]\nid = 'x'\npath = '/x'\n[[shares.members]]\nmod = 'x'",
            "'shares.members.mod'",
        ),
        (
            "[[shares]]\nid = 'x'\npath = '/x'\n[shares.history]\nkeeps = 'none'",
            "'shares.history.keeps'",
        ),
        ("[docs]\nchunk_bytes = 1", "unknown key 'docs.chunk_bytes'"),
        ("[apps]\nbnd = '127.0.0.1'", "unknown key 'apps.bnd' (did you mean 'bind'?)"),
    ],
)
def test_bad_values_name_the_file_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_unknown_mode_lists_the_modes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    share = ShareId.new()
    path.write_text(
        f"[[shares]]\nid = '{share}'\npath = '/tmp/x'\n"
        f"[[shares.members]]\ndevice_id = '{DEVICE}'\nmode = 'sometimes'\n"
    )
    with pytest.raises(ConfigError, match="send-receive, receive-only, send-only"):
        load_config(path)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)


def test_addresses() -> None:
    assert parse_address("127.0.0.1:22070") == ("127.0.0.1", 22070)
    assert parse_address("[::1]:5") == ("::1", 5)
    for bad in ("host", ":5", "h:99999", "h:x"):
        with pytest.raises(ConfigError):
            parse_address(bad)


def test_typed_addresses_are_checked_strictly() -> None:
    assert check_address("127.0.0.1:22070") == ("127.0.0.1", 22070)
    assert check_address("[::1]:22070") == ("::1", 22070)
    assert check_address("[fe80::1%eth0]:1") == ("fe80::1%eth0", 1)
    assert check_address("nas.local:65535") == ("nas.local", 65535)
    assert check_address("my-box.:22070") == ("my-box.", 22070)
    cases = {
        "127.0.0.1:22070:5": "more than one ':'",
        "http://127.0.0.1:22070": "has a scheme",
        "300.1.1.1:22070": "'300.1.1.1' in '300.1.1.1:22070' is not an IPv4 address",
        "::1:22070": "needs brackets: [::1]:22070",
        "127.0.0.1 :22070": "contains a space",
        "127.0.0.1:0": "is not a number from 1 to 65535",
        "127.0.0.1:65536": "is not a number from 1 to 65535",
        "127.0.0.1:²": "is not a number from 1 to 65535",
        "127.0.0.1": "'127.0.0.1' has no port",
        "nas.local": "'nas.local' has no port",
        ":22070": "':22070' has no host",
        "[::1:22070": "is not an IPv6 address in brackets",
        "[127.0.0.1]:22070": "is not an IPv6 address in brackets",
        "-nas:22070": "is not an IP address or a hostname",
        "nas_box:22070": "is not an IP address or a hostname",
        "a..b:22070": "is not an IP address or a hostname",
        f"{'a' * 64}.lan:22070": "is not an IP address or a hostname",
    }
    for text, problem in cases.items():
        with pytest.raises(ConfigError, match=re.escape(problem)):
            check_address(text)


def test_device_names_are_checked() -> None:
    assert check_device_name("Zoë's laptop") == "Zoë's laptop"
    assert check_device_name("x" * 64) == "x" * 64
    cases = {
        "": "cannot be empty",
        "x" * 65: "at most 64 characters, not 65",
        "a\nb": "holds a control character",
        "a\x00b": "holds a control character",
        " vm": "starts or ends with a space",
        "vm ": "starts or ends with a space",
    }
    for name, problem in cases.items():
        with pytest.raises(ConfigError, match=re.escape(problem)):
            check_device_name(name)
    with pytest.raises(ConfigError, match="cannot be empty"):
        check_device_name(None)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_loads_or_fails_with_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(text)
    with contextlib.suppress(ConfigError):  # any other exception fails the test
        assert isinstance(load_config(path), Config)


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ("a", "shares {one} and {two} have the same folder {root}/a"),
        ("a/./", "shares {one} and {two} have the same folder {root}/a"),
        ("link", "shares {one} and {two} have the same folder {root}/a"),
        ("a/inner", "the folder {root}/a/inner of share {two} is inside the folder {root}/a of "
                    "share {one}"),
        ("", "the folder {root}/a of share {one} is inside the folder {root} of share {two}"),
    ],
    ids=["same", "same-spelled-apart", "same-through-a-symlink", "inside", "around"],
)  # fmt: skip
def test_two_shares_of_one_folder_or_one_inside_the_other_are_refused(
    tmp_path: Path, second: str, expected: str
) -> None:
    """A configuration written by hand gets no further than ``share add`` would."""
    root = tmp_path.resolve()
    (root / "a").mkdir()
    (root / "link").symlink_to(root / "a")
    one, two = ShareId.new(), ShareId.new()
    path = tmp_path / "config.toml"
    path.write_text(
        f"[[shares]]\nid = '{one}'\npath = '{root / 'a'}'\n"
        f"[[shares]]\nid = '{two}'\npath = '{root}/{second}'\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected.format(one=one, two=two, root=root) in message
    assert message.count(". ") == 0  # one sentence


def test_shares_side_by_side_are_fine(tmp_path: Path) -> None:
    one, two = ShareId.new(), ShareId.new()
    path = tmp_path / "config.toml"
    path.write_text(
        f"[[shares]]\nid = '{one}'\npath = '{tmp_path / 'a'}'\n"
        f"[[shares]]\nid = '{two}'\npath = '{tmp_path / 'ab'}'\n"
    )
    assert [s.id for s in load_config(path).shares] == [one, two]
