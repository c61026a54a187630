"""The pure helpers of bench/bench_manyfiles.py: reading /proc/net addresses and
Syncthing's event times (the benchmark itself runs under ``make bench``)."""

from __future__ import annotations

import datetime
import os
import socket

from bench.bench_manyfiles import _event_time, _loopback, off_loopback


def test_loopback_addresses_as_proc_net_writes_them() -> None:
    assert _loopback("0100007F:1F90")  # 127.0.0.1:8080
    assert _loopback("0500007F:0050")  # 127.0.0.5
    assert _loopback("00000000000000000000000001000000:1F90")  # [::1]
    assert _loopback("0000000000000000FFFF00000100007F:0050")  # [::ffff:127.0.0.1]
    assert not _loopback("00000000:1F90")  # 0.0.0.0: every interface
    assert not _loopback("0101A8C0:0050")  # 192.168.1.1
    assert not _loopback("00000000000000000000000000000000:0050")  # [::]


def test_a_socket_on_every_interface_is_found_and_one_on_loopback_is_not() -> None:
    before = set(off_loopback(os.getpid()))  # whatever else this process holds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as local:
        local.bind(("127.0.0.1", 0))
        assert set(off_loopback(os.getpid())) == before
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wide:
            wide.bind(("0.0.0.0", 0))  # bound only: nothing is sent
            port = wide.getsockname()[1]
            found = set(off_loopback(os.getpid())) - before
    assert len(found) == 1
    assert found.pop().startswith(f"udp 00000000:{port:04X} ")


def test_event_times_keep_their_microseconds_and_zone() -> None:
    utc = datetime.datetime(2026, 12, 5, 18, 57, 46, 214065, tzinfo=datetime.UTC)
    assert _event_time("2026-12-05T18:57:46.214065312Z") == utc.timestamp()
    assert _event_time("2026-12-05T19:57:46.214065312+01:00") == utc.timestamp()
    assert _event_time("2026-12-05T18:57:46Z") == utc.replace(microsecond=0).timestamp()
