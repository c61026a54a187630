"""Many small files (issue 19): first scan, first sync to an empty peer, CPU, idle memory,
docs left loaded and restart to idle, for p2psync and for Syncthing in the same run.

The workload is the issue's: ``P2PSYNC_BENCH_FILES`` files (10,000 by default; 1,000
with ``--quick``) in 350 folders, one in ten binary 2 KiB, the rest text of 10 B to 1.4 KiB,
from a fixed seed. Both systems run two instances on loopback; a sync is done when the
destination tree is byte-identical to the source. Syncthing comes from Debian (``make
bench-deps``); without it the suite fails and says so.

Syncthing never reaches beyond loopback: each instance's keys and config.xml are written
before its first start (``syncthing generate``, then listen and GUI on 127.0.0.1 only;
global and local discovery, relays, NAT traversal, upgrades, usage and crash reports
off), and every socket of every daemon is checked to be on loopback after each phase.

Both systems are timed on the same boundaries: the wall clock just before the request
that adds the folder or links the peers (p2psync's control socket and Syncthing's REST
API, both from this process), until the condition holds. The conditions are polled
every ``POLL_S``, except the end of Syncthing's first scan, which is the time of its
own ``StateChanged`` event (scanning to idle). ``P2PSYNC_BENCH_RUNS`` runs (1 by
default) alternate the two systems; the page shows the median of each figure.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import BenchContext, Metric
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.daemon.residency import CROWD_FLOOR
from tests.support.daemons import Device, cli, free_port, wait_for

GROUP = "Many small files: p2psync against Syncthing (issue 19)"
FILES = int(os.environ.get("P2PSYNC_BENCH_FILES", "10000"))
QUICK_FILES = 1_000
FOLDERS = 350
SEED = 19
DEADLINE_S = 1800.0
IDLE_SETTLE_S = 5.0
UNLOAD_DEADLINE_S = 300.0
"""How long the receiver may take, once idle, to unload all but ``CROWD_FLOOR`` docs."""
MIB = 1024 * 1024
RUNS = int(os.environ.get("P2PSYNC_BENCH_RUNS", "1"))
POLL_S = 0.1
"""How often a condition is polled at first: p2psync's status walks every doc, and a
poll every 20 ms took 15 % of its event loop during a first scan."""
POLL_SHARE = 0.02
"""Later polls come at most this share of the time waited so far after the one before."""
POLL_MAX_S = 1.0
SCAN_PROFILE = (
    "Where p2psync's first scan spent its time before new files were taken in as "
    "groups (py-spy --idle --threads on the daemon, 2026-12-05, 1,000 files, loaded "
    "machine): each new file alone, one after another, waiting for it to be durable "
    "before the next. Its event loop was 44 % idle waiting on worker threads; of its "
    "busy time, most was opening each new file's doc log on the event loop "
    "(DocLog.open: create, flock, stat, truncate, header) and each file's sync record "
    "(SyncTable.put: a temp file written and renamed), then the Yjs edit, the doc's "
    "history timeline and debug logging; the worker threads spent theirs in each new "
    "log's fdatasync and folder fsync, and in each timeline's atomic write (fsync, "
    "rename, folder fsync), one file at a time. Since (mirror.newfiles, "
    "daemon.newdocs): new files are read 256 at a time in one thread hop, their logs "
    "created in one hop and their first updates stored by one group commit "
    "(storage.doclog.append_group: each log fdatasynced, 8 at once, then one folder "
    "fsync), their timelines written 8 at once, their sync records written in one "
    "hop, and nothing is recorded before its doc is durable; the watcher no longer "
    "hands the daemon's own writes in .p2psync to the event loop. In the profile "
    "after, the scan's event-loop time is mostly making the docs (DocReplica, the Yjs "
    "edit) and debug logging (the bench's daemons logged at debug level then; at "
    "info, their default, since 2026-12-07), and its worker "
    "threads' the fsyncs of the logs and timelines, now several at once"
)
"""Where p2psync's first scan spends its time, from a profile (docs/benchmarks.md)."""
API_KEY = "p2psync-bench-manyfiles"


def run(ctx: BenchContext) -> None:
    count = QUICK_FILES if ctx.quick else FILES
    load = os.getloadavg()[0]
    ours, theirs = alternate(ctx, count, max(1, RUNS), _p2psync, _syncthing)
    _report(ctx, count, ours, theirs, load)


Figures = dict[str, float]
System = Callable[[Path, Path, int], Figures]
"""One system's runs: ``(root, source, count)`` -> its figures."""


def alternate(
    ctx: BenchContext, count: int, runs: int, ours: System, theirs: System
) -> tuple[list[Figures], list[Figures]]:
    """Generate the workload once, then ``runs`` rounds alternating the two systems,
    each run under a fresh folder of a temporary directory; each round printed as it
    ends. The figures of every run of each."""
    if shutil.which("syncthing") is None:
        raise RuntimeError("syncthing is not installed: run `make bench-deps` (Debian package)")
    mine: list[Figures] = []
    other: list[Figures] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "workload"
        generate(source, count)
        for i in range(runs):
            mine.append(ours(root / f"p2psync{i}", source, count))
            other.append(theirs(root / f"syncthing{i}", source, count))
            print(f"  run {i + 1}: p2psync {_brief(mine[-1])}; Syncthing {_brief(other[-1])}",
                  file=ctx.out, flush=True)  # fmt: skip
    return mine, other


def _brief(figures: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.3g}" for key, value in figures.items())


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def generate(folder: Path, count: int, seed: int = SEED) -> None:
    """The issue's workload: ``count`` files in up to 350 folders, one in ten binary
    2 KiB, the rest text of 10 B to 1.4 KiB."""
    rng = random.Random(seed)
    words = ["sync", "peer", "note", "draft", "lan", "doc", "tree", "merge", "file", "idle"]
    for i in range(count):
        sub = folder / f"d{i % FOLDERS:03}"
        sub.mkdir(parents=True, exist_ok=True)
        if i % 10 == 9:
            (sub / f"f{i:06}.bin").write_bytes(rng.randbytes(2048))
            continue
        size = rng.randint(10, 1400)
        text = ""
        while len(text) < size:
            text += " ".join(rng.choices(words, k=8)) + "\n"
        (sub / f"f{i:06}.md").write_text(text[:size], encoding="utf-8")


def tree_digest(folder: Path, skip: Callable[[Path], bool]) -> str:
    """One digest of every file's relative path and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not skip(rel):
            digest.update(str(rel).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _ours_skip(rel: Path) -> bool:
    return rel.parts[0] in (".p2psync", ".p2psyncignore")


def _theirs_skip(rel: Path) -> bool:
    return rel.parts[0] in (".stfolder", ".stversions")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _poll_until(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> float:
    """Poll ``condition`` until it holds; the wall clock then. Raises AssertionError
    after ``deadline_s``. Every ``POLL_S`` at first, then every ``POLL_SHARE`` of the
    time waited so far (at most ``POLL_MAX_S``): each poll is a status request that
    walks every file, and ten a second during a first sync of 10,000 files cost
    p2psync's receiver a fifth more CPU; a figure is late by at most that share."""
    start = time.monotonic()
    end = start + deadline_s
    while not condition():
        now = time.monotonic()
        if now > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(min(max(POLL_S, (now - start) * POLL_SHARE), POLL_MAX_S))
    return time.time()


def off_loopback(pid: int) -> list[str]:
    """The IP sockets of process ``pid`` bound or connected beyond loopback (a listener
    on every interface counts), from /proc; empty when all of them stay on loopback."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            unset = set(remote.replace(":", "")) == {"0"}
            if inode in inodes and not (_loopback(local) and (unset or _loopback(remote))):
                found.append(f"{table} {local} -> {remote}")
    return found


def _loopback(address: str) -> bool:
    """Whether a /proc/net address (hex ``ip:port``) is on 127.0.0.0/8 or ::1."""
    ip = address.split(":", maxsplit=1)[0]
    if len(ip) == 8:  # IPv4, the bytes of a little-endian word: 127.x.y.z ends in 7F
        return ip.endswith("7F")
    mapped = ip.startswith("0000000000000000FFFF0000") and ip.endswith("7F")
    return ip == "00000000000000000000000001000000" or mapped


def _assert_loopback(pids: list[int], when: str) -> None:
    for pid in pids:
        if found := off_loopback(pid):
            raise AssertionError(f"process {pid} has sockets beyond loopback {when}: {found}")


# --- p2psync ---------------------------------------------------------------------------


class Daemon(Device):
    """A device whose daemon logs at its default level, as a user's does (and as
    Syncthing runs here): at debug level it writes a line for every doc loaded and
    unloaded, 20,000 lines on the event loop for 10,000 files (about 15 % of its time
    in a profile of a first scan)."""

    log_level = "info"


def _call(on: Device, method: str, **params: Any) -> Any:
    """One request on ``device``'s control socket, from this process (no CLI start-up)."""
    with ControlClient(Home.resolve(on.home).socket_path) as client:
        return client.call(method, **params)


def _share(device: Device) -> dict[str, Any]:
    shares: list[dict[str, Any]] = _call(device, "status")["shares"]
    return next(s for s in shares if s["path"] == str(device.folder))


def _scanned(device: Device, count: int) -> bool:
    return int(_share(device).get("files", 0)) >= count


def _written(device: Device, count: int) -> bool:
    """Every file listed and written to the folder (``files_to_write``): the cheap
    sign, as Syncthing's ``has_all``, before the tree is read to compare it. Until
    2026-12-07 the tree was read every poll from the moment the files were listed,
    which at 100,000 files kept one of the two cores reading and hashing for the
    last 300 s of p2psync's first sync."""
    share = _share(device)
    return int(share.get("files", 0)) >= count and share.get("files_to_write") == 0


def _idle(device: Device) -> bool:
    """Connected to its peer and in sync with it, as Syncthing's condition below (the
    CLI's wait-idle also holds with no peer connected)."""
    idle = _call(device, "idle")
    return bool(idle["idle"]) and int(idle["connected"]) >= 1


def _pids(*processes: subprocess.Popen[bytes] | None) -> list[int]:
    return [p.pid for p in processes if p is not None]


def first_scan(device: Device, count: int) -> tuple[str, float]:
    """Add ``device``'s folder (``count`` files) as a new share: its ID, and the seconds
    from the request until the share's status lists every file."""
    start = time.time()
    share = str(_call(device, "share.add", path=str(device.folder), id=None, create=True)["id"])
    return share, _poll_until(lambda: _scanned(device, count), "p2psync's first scan") - start


def _p2psync(root: Path, source: Path, count: int) -> dict[str, float]:
    root.mkdir()
    alice, bob = Daemon(root, "alice"), Daemon(root, "bob")
    shutil.copytree(source, alice.folder)
    figures: dict[str, float] = {}
    try:
        alice.start()
        share, figures["scan_s"] = first_scan(alice, count)
        cli(bob.home, "share", "add", str(bob.folder), "--id", share, "--create")
        cli(alice.home, "share", "member", "add", share, bob.id)
        cli(bob.home, "share", "member", "add", share, alice.id)
        port = free_port()
        bob.start(port)
        pids = _pids(alice.process, bob.process)
        _assert_loopback(pids, "after the first scan")
        cpu_before = sum(_cpu_s(pid) for pid in pids)
        want = tree_digest(alice.folder, _ours_skip)
        start = time.time()
        _call(alice, "peer.add", device=bob.id, address=bob.address)
        _call(bob, "peer.add", device=alice.id, address=alice.address)
        _poll_until(lambda: _written(bob, count), "p2psync's files written on bob")
        end = _poll_until(lambda: tree_digest(bob.folder, _ours_skip) == want, "bob's tree")
        figures["sync_s"] = end - start
        figures["sync_cpu_s"] = sum(_cpu_s(pid) for pid in pids) - cpu_before
        _assert_loopback(pids, "after the first sync")
        settled = _poll_until(lambda: _idle(bob) and _idle(alice), "p2psync idle")
        time.sleep(IDLE_SETTLE_S)  # a measurement interval, not a wait for a condition
        assert bob.process is not None
        figures["idle_rss_mib"] = _rss_mib(bob.process.pid)
        figures["docs_loaded"] = float(_share(bob)["docs_loaded"])
        figures["docs"] = float(_share(bob)["docs"])
        unloaded = _poll_until(lambda: _share(bob)["docs_loaded"] == 0,
                               "p2psync's docs unloaded", UNLOAD_DEADLINE_S)  # fmt: skip
        figures["unloaded_s"] = unloaded - settled
        figures["unloaded_rss_mib"] = _rss_mib(bob.process.pid)
        bob.stop()
        start = time.time()
        bob.start(port)
        figures["restart_s"] = _poll_until(lambda: _idle(bob), "p2psync restart to idle") - start
        assert bob.process is not None
        figures["restart_rss_mib"] = _rss_mib(bob.process.pid)
        figures["restart_docs_loaded"] = float(_share(bob)["docs_loaded"])
        _poll_until(lambda: _share(bob)["docs_loaded"] == 0,
                    "p2psync's docs unloaded after the restart", UNLOAD_DEADLINE_S)  # fmt: skip
        figures["restart_unloaded_rss_mib"] = _rss_mib(bob.process.pid)
        _assert_loopback(_pids(alice.process, bob.process), "after a restart")
    finally:
        for device in (alice, bob):
            device.stop(signal.SIGKILL)
    return figures


# --- Syncthing -------------------------------------------------------------------------

OPTIONS = {
    "globalAnnounceEnabled": "false",
    "localAnnounceEnabled": "false",
    "relaysEnabled": "false",
    "natEnabled": "false",
    "announceLANAddresses": "false",
    "startBrowser": "false",
    "urAccepted": "-1",
    "autoUpgradeIntervalH": "0",
    "crashReportingEnabled": "false",
    "setLowPriority": "false",  # both systems at the same priority
}
"""Syncthing options written before the first start: nothing but loopback."""


class Syncthing:
    """One Syncthing instance on loopback, driven through its REST API."""

    def __init__(self, home: Path, folder: Path) -> None:
        self.home, self.folder = home, folder
        self.gui_port, self.port = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.id = ""

    def generate(self) -> None:
        """Keys and a loopback-only config.xml, before the instance first starts: it
        then never listens on every interface, nor looks up relays or discovery."""
        self.home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["syncthing", "generate", f"--home={self.home}", "--no-default-folder",
             "--skip-port-probing"],
            check=True, capture_output=True, timeout=60, env=_syncthing_env(),
        )  # fmt: skip
        path = self.home / "config.xml"
        tree = ET.parse(path)
        config = tree.getroot()
        own = config.find("device")
        gui = config.find("gui")
        options = config.find("options")
        if own is None or gui is None or options is None:
            raise RuntimeError(f"unexpected config.xml from syncthing generate: {path}")
        self.id = own.get("id", "")
        gui.set("enabled", "true")
        gui.set("tls", "false")
        _set(gui, "address", f"127.0.0.1:{self.gui_port}")
        _set(gui, "apikey", API_KEY)
        for name, value in {**OPTIONS, "listenAddress": f"tcp://127.0.0.1:{self.port}"}.items():
            _set(options, name, value)
        tree.write(path)

    def start(self) -> None:
        if not (self.home / "config.xml").exists():
            self.generate()
        with (self.home / "syncthing.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["syncthing", "serve", f"--home={self.home}", "--no-browser", "--no-restart"],
                stdout=log, stderr=subprocess.STDOUT, env=_syncthing_env(),
            )  # fmt: skip
        wait_for(self._answers, "syncthing's REST API", 60)
        if self.get("/rest/system/status")["myID"] != self.id:
            raise RuntimeError("syncthing did not start with the keys written for it")

    def _answers(self) -> bool:
        try:
            self.get("/rest/system/ping")
        except OSError:
            return False
        return True

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.gui_port}{path}", data=data, method=method,
            headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def last_event(self) -> int:
        """The ID of the newest event so far (events after it are the ones to read)."""
        events = self.get("/rest/events?since=0&limit=1&timeout=1")
        return int(events[-1]["id"]) if events else 0

    def first_scan(self, count: int) -> float:
        """Add folder ``bench`` (``count`` files): the seconds from the request to the
        end of its first scan (Syncthing's own event), every file then in its index."""
        since = self.last_event()
        start = time.time()
        self.add_folder([self.id])
        took = self.first_scan_done(since) - start
        if int(self.folder_status()["localFiles"]) != count:
            raise AssertionError(f"syncthing's first scan found {self.folder_status()}")
        return took

    def first_scan_done(self, since: int) -> float:
        """When folder ``bench`` first went from scanning to idle after event ``since``
        (the wall clock of Syncthing's own event), waiting for it under a deadline."""
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            # the default subscription, which runs from the start: one with an events=
            # filter is made on first use and sees only what comes after it
            events = self.get(f"/rest/events?since={since}&timeout=1")
            for event in events or []:
                since = max(since, int(event["id"]))
                data = event["data"]
                if (data.get("folder"), data.get("from"), data.get("to")) == (
                    "bench",
                    "scanning",
                    "idle",
                ):
                    return _event_time(str(event["time"]))
        raise AssertionError("timed out waiting for syncthing's first scan")

    def add_peer(self, other: Syncthing, *, dial: bool = True) -> None:
        """Know ``other``; without ``dial``, only accept its connection (no address:
        discovery is off, so nothing is looked up either)."""
        address = f"tcp://127.0.0.1:{other.port}" if dial else "dynamic"
        self.request("POST", "/rest/config/devices", {"deviceID": other.id, "addresses": [address]})

    def add_folder(self, devices: list[str]) -> None:
        self.request("POST", "/rest/config/folders", {
            "id": "bench", "label": "bench", "path": str(self.folder),
            "devices": [{"deviceID": d} for d in devices], "fsWatcherEnabled": True,
        })  # fmt: skip

    def folder_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.get("/rest/db/status?folder=bench")
        return status

    def has_all(self, count: int) -> bool:
        status = self.folder_status()
        return status["state"] == "idle" and int(status["localFiles"]) >= count

    def idle(self) -> bool:
        status = self.folder_status()
        return status["state"] == "idle" and int(status["needFiles"]) == 0

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None


def _syncthing_env() -> dict[str, str]:
    # STMONITORED: no monitor process, so the RSS read and the kill reach the real one
    return {**os.environ, "STNODEFAULTFOLDER": "1", "STNOUPGRADE": "1", "STMONITORED": "yes"}


def _set(parent: ET.Element, name: str, value: str) -> None:
    """Set ``parent``'s one child element ``name`` to ``value`` (others of that name go)."""
    for child in parent.findall(name):
        parent.remove(child)
    ET.SubElement(parent, name).text = value


def _event_time(stamp: str) -> float:
    """A Syncthing event time (RFC 3339 with nanoseconds) as a Unix time."""
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", stamp)
    if match is None:
        raise ValueError(f"unexpected event time {stamp!r}")
    fraction = (match[2] or ".0")[:7]
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.datetime.fromisoformat(match[1] + fraction + zone).timestamp()


def _syncthing(root: Path, source: Path, count: int) -> dict[str, float]:
    alpha = Syncthing(root / "alpha", root / "alpha-share")
    beta = Syncthing(root / "beta", root / "beta-share")
    shutil.copytree(source, alpha.folder)
    beta.folder.mkdir(parents=True)
    figures: dict[str, float] = {}
    try:
        for node in (alpha, beta):
            node.start()
        pids = _pids(alpha.process, beta.process)
        _assert_loopback(pids, "after start")
        figures["scan_s"] = alpha.first_scan(count)
        cpu_before = sum(_cpu_s(pid) for pid in pids)
        want = tree_digest(alpha.folder, _theirs_skip)
        start = time.time()
        # Devices before the folders that name them (a folder drops the devices its
        # instance does not know); alpha first and without dialling, so that beta's
        # first dial is accepted rather than refused and tried again later
        alpha.add_peer(beta, dial=False)
        beta.add_peer(alpha)
        beta.add_folder([beta.id, alpha.id])
        alpha.request("PUT", "/rest/config/folders/bench", {
            **alpha.get("/rest/config/folders/bench"),
            "devices": [{"deviceID": alpha.id}, {"deviceID": beta.id}],
        })  # fmt: skip
        _poll_until(lambda: beta.has_all(count), "syncthing's files on beta")
        end = _poll_until(lambda: tree_digest(beta.folder, _theirs_skip) == want, "beta's tree")
        figures["sync_s"] = end - start
        figures["sync_cpu_s"] = sum(_cpu_s(pid) for pid in pids) - cpu_before
        _assert_loopback(pids, "after the first sync")
        _poll_until(lambda: beta.idle() and alpha.idle(), "syncthing idle")
        time.sleep(IDLE_SETTLE_S)  # a measurement interval, not a wait for a condition
        assert beta.process is not None
        figures["idle_rss_mib"] = _rss_mib(beta.process.pid)
        figures["unloaded_rss_mib"] = figures["idle_rss_mib"]  # no docs to unload
        beta.stop()
        start = time.time()
        beta.start()
        restarted = _poll_until(
            lambda: _connected(beta, alpha.id) and beta.idle(), "syncthing idle", 600
        )
        figures["restart_s"] = restarted - start
        assert beta.process is not None
        figures["restart_rss_mib"] = _rss_mib(beta.process.pid)
        figures["restart_unloaded_rss_mib"] = figures["restart_rss_mib"]  # no docs to unload
        _assert_loopback(_pids(alpha.process, beta.process), "after a restart")
    finally:
        for node in (alpha, beta):
            node.stop()
    return figures


def _connected(node: Syncthing, other: str) -> bool:
    connections = node.get("/rest/system/connections")["connections"]
    return bool(connections.get(other, {}).get("connected"))


# --- report ----------------------------------------------------------------------------


Row = tuple[str, str, str, str]
"""A figure's key, its name on the page, its unit and how it was measured."""


def report_rows(
    ctx: BenchContext,
    group: str,
    count: int,
    rows: list[Row],
    our_runs: list[Figures],
    their_runs: list[Figures],
) -> None:
    """One metric per row: p2psync's median against Syncthing's, and the spread of the
    per-run ratios when there were several runs."""
    ours, theirs, runs = _median(our_runs), _median(their_runs), len(our_runs)
    for key, name, unit, note in rows:
        ratios = sorted(o[key] / t[key] for o, t in zip(our_runs, their_runs, strict=True))
        spread = f" (per-run ratios {ratios[0]:.3g} to {ratios[-1]:.3g})" if runs > 1 else ""
        ctx.report(Metric(
            group, f"{name}, {count} files", ours[key], unit, "Syncthing, same run",
            theirs[key], 1.0, note=note + spread,
        ))  # fmt: skip


def _report(
    ctx: BenchContext,
    count: int,
    our_runs: list[dict[str, float]],
    their_runs: list[dict[str, float]],
    load: float,
) -> None:
    ours, runs = _median(our_runs), len(our_runs)
    median = f"median of {runs} runs, alternating the two systems" if runs > 1 else "one run"
    context = f"{median}, load average {load:.1f} at the start on {os.cpu_count()} cores"
    rows: list[Row] = [
        ("scan_s", "first scan (share add until scanned)", "s",
         "p2psync: from the share.add request (control socket) to its status listing "
         f"every file (polled every {POLL_S * 1e3:g} ms, later every {POLL_SHARE:.0%} of the "
         f"time waited, at most {POLL_MAX_S:g} s: up to that much late; a file is "
         "listed once its doc is durable, and the one manifest change that names the "
         "batch's files follows the last of them, about 0.1 s of event-loop time at "
         "1,000 files in the profile below); Syncthing: "
         "from the POST of the "
         "folder (REST API) to the time of its first StateChanged event from scanning to "
         f"idle, every file then in its index; {context}"),
        ("sync_s", "first sync to an empty peer", "s",
         "from the requests that link the peers (control socket / REST API) until the "
         "destination tree is byte-identical: polled first by each system's sign that "
         "every file is written (Syncthing's folder idle with every file local, "
         "p2psync's files_to_write at 0), then by reading the tree (before 2026-12-07 "
         "p2psync's tree was read every poll once its files were listed, a core's "
         "worth of reading and hashing during the last 300 s at 100,000 files)"),
        ("sync_cpu_s", "CPU seconds, both daemons, during the first sync", "CPU-s",
         "utime + stime from /proc of both processes"),
        ("idle_rss_mib", "idle RSS of the receiver after the first sync", "MiB",
         f"VmRSS {IDLE_SETTLE_S:g} s after both sides are idle"),
        ("unloaded_rss_mib", "idle RSS of the receiver after the first sync, docs unloaded",
         "MiB", "VmRSS once no doc is loaded, the manifest included (polled; before "
         f"2026-12-07 once no more than {CROWD_FLOOR} were, the manifest staying), "
         f"{ours['unloaded_s']:.3g} s after both sides were idle; Syncthing's is its VmRSS "
         f"{IDLE_SETTLE_S:g} s after idle, as above"),
        ("restart_s", "restart to connected and idle", "s",
         "the receiver restarted (SIGTERM for p2psync, SIGKILL for Syncthing), from its "
         "spawn until it is connected to the other side and in sync with it; for p2psync "
         "since 2026-12-07 in sync includes its first look at the folder after the start "
         "(the files changed while it was down taken in, MirrorService.settled), as "
         "Syncthing's idle includes its scan: 0.81 to 1.13 s before, without it"),
        ("restart_rss_mib", "idle RSS after a restart", "MiB",
         "VmRSS when idle after the restart, its first look at the folder done (as above: "
         "74 MiB before, measured before that look); every socket of every daemon was on "
         "loopback after each phase (/proc), Syncthing configured so before its first start"),
        ("restart_unloaded_rss_mib", "idle RSS after a restart, docs unloaded", "MiB",
         "VmRSS once no doc is loaded after the restart, the manifest included: it leaves "
         "memory after [docs] idle_unload_s (60 s) unused; Syncthing's as the row above"),
    ]  # fmt: skip
    rows[0] = (*rows[0][:3], f"{rows[0][3]}. {SCAN_PROFILE}")
    report_rows(ctx, GROUP, count, rows, our_runs, their_runs)
    for key, name in (("docs_loaded", "after the first sync"),
                      ("restart_docs_loaded", "after a restart")):  # fmt: skip
        ctx.report(Metric(
            GROUP, f"docs still loaded on the receiver {name}, {count} files", ours[key],
            "docs", "docs in the share", max(ours["docs"], 1.0), 0.01,
            note="docs_loaded from the share's status",
        ))  # fmt: skip
