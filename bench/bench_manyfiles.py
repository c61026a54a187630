"""Many small files (issue 19): first scan, first sync to an empty peer, CPU, idle memory,
docs left loaded and restart to idle, for p2psync and for Syncthing in the same run.

The workload is the issue's: ``--files`` files (10,000 by default; 1,000 with
``--quick``) in 350 folders, one in ten binary 2 KiB, the rest text of 10 B to 1.4 KiB,
from a fixed seed. Both systems run two instances on loopback (Syncthing with discovery,
relays, NAT and global announce off, configured through its REST API); a sync is done
when the destination tree is byte-identical to the source. Syncthing comes from Debian
(``make bench-deps``); without it the suite fails and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import BenchContext, Metric
from tests.integration.sync.daemons import Device, cli, free_port, link, wait_for

GROUP = "Many small files: p2psync against Syncthing (issue 19)"
FILES = int(os.environ.get("P2PSYNC_BENCH_FILES", "10000"))
QUICK_FILES = 1_000
FOLDERS = 350
SEED = 19
DEADLINE_S = 1800.0
IDLE_SETTLE_S = 5.0
MIB = 1024 * 1024
API_KEY = "p2psync-bench-manyfiles"


def run(ctx: BenchContext) -> None:
    count = QUICK_FILES if ctx.quick else FILES
    if shutil.which("syncthing") is None:
        raise RuntimeError("syncthing is not installed: run `make bench-deps` (Debian package)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "workload"
        generate(source, count)
        ours = _p2psync(root / "p2psync", source, count)
        theirs = _syncthing(root / "syncthing", source, count)
    _report(ctx, count, ours, theirs)


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


def _timed_until(condition: Callable[[], bool], what: str) -> float:
    start = time.perf_counter()
    wait_for(condition, what, DEADLINE_S)
    return time.perf_counter() - start


# --- p2psync ---------------------------------------------------------------------------


def _share(device: Device) -> dict[str, Any]:
    shares: list[dict[str, Any]] = device.status()["shares"]
    return next(s for s in shares if s["path"] == str(device.folder))


def _scanned(device: Device, count: int) -> bool:
    return int(_share(device).get("files", 0)) >= count


def _idle(device: Device) -> bool:
    return cli(device.home, "wait-idle", "--timeout", "0.5", check=False).returncode == 0


def _p2psync(root: Path, source: Path, count: int) -> dict[str, float]:
    root.mkdir()
    alice, bob = Device(root, "alice"), Device(root, "bob")
    shutil.copytree(source, alice.folder)
    figures: dict[str, float] = {}
    try:
        alice.start()
        start = time.perf_counter()
        share = cli(alice.home, "share", "add", str(alice.folder), "--create").stdout.strip()
        wait_for(lambda: _scanned(alice, count), "p2psync's first scan", DEADLINE_S)
        figures["scan_s"] = time.perf_counter() - start
        cli(bob.home, "share", "add", str(bob.folder), "--id", share, "--create")
        cli(alice.home, "share", "member", "add", share, bob.id)
        cli(bob.home, "share", "member", "add", share, alice.id)
        port = free_port()
        bob.start(port)
        pids = [p.pid for p in (alice.process, bob.process) if p is not None]
        cpu_before = sum(_cpu_s(pid) for pid in pids)
        want = tree_digest(alice.folder, _ours_skip)
        start = time.perf_counter()
        link([alice, bob])
        wait_for(lambda: _scanned(bob, count), "p2psync's files on bob", DEADLINE_S)
        wait_for(lambda: tree_digest(bob.folder, _ours_skip) == want, "bob's tree", DEADLINE_S)
        figures["sync_s"] = time.perf_counter() - start
        figures["sync_cpu_s"] = sum(_cpu_s(pid) for pid in pids) - cpu_before
        wait_for(lambda: _idle(bob) and _idle(alice), "p2psync idle", DEADLINE_S)
        time.sleep(IDLE_SETTLE_S)  # a measurement interval, not a wait for a condition
        assert bob.process is not None
        figures["idle_rss_mib"] = _rss_mib(bob.process.pid)
        figures["docs_loaded"] = float(_share(bob)["docs_loaded"])
        figures["docs"] = float(_share(bob)["docs"])
        bob.stop()
        start = time.perf_counter()
        bob.start(port)
        wait_for(lambda: _idle(bob), "p2psync restart to idle", DEADLINE_S)
        figures["restart_s"] = time.perf_counter() - start
        assert bob.process is not None
        figures["restart_rss_mib"] = _rss_mib(bob.process.pid)
        figures["restart_docs_loaded"] = float(_share(bob)["docs_loaded"])
    finally:
        for device in (alice, bob):
            device.stop(signal.SIGKILL)
    return figures


# --- Syncthing -------------------------------------------------------------------------


class Syncthing:
    """One Syncthing instance on loopback, driven through its REST API."""

    def __init__(self, home: Path, folder: Path) -> None:
        self.home, self.folder = home, folder
        self.gui_port, self.port = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.id = ""

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "STNODEFAULTFOLDER": "1", "STNOUPGRADE": "1", "STMONITORED": "yes"}
        with (self.home / "syncthing.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["syncthing", "serve", f"--home={self.home}", "--no-browser", "--no-restart",
                 f"--gui-address=http://127.0.0.1:{self.gui_port}", f"--gui-apikey={API_KEY}"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        wait_for(self._answers, "syncthing's REST API", 60)
        self.id = self.get("/rest/system/status")["myID"]

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

    def configure(self) -> None:
        self.request("PATCH", "/rest/config/options", {
            "globalAnnounceEnabled": False, "localAnnounceEnabled": False,
            "relaysEnabled": False, "natEnabled": False, "urAccepted": -1,
            "crashReportingEnabled": False, "autoUpgradeIntervalH": 0,
            "listenAddresses": [f"tcp://127.0.0.1:{self.port}"],
        })  # fmt: skip

    def add_peer(self, other: Syncthing) -> None:
        self.request("POST", "/rest/config/devices", {
            "deviceID": other.id, "addresses": [f"tcp://127.0.0.1:{other.port}"],
        })  # fmt: skip

    def add_folder(self, devices: list[str]) -> None:
        self.request("POST", "/rest/config/folders", {
            "id": "bench", "label": "bench", "path": str(self.folder),
            "devices": [{"deviceID": d} for d in devices], "fsWatcherEnabled": True,
        })  # fmt: skip

    def folder_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.get("/rest/db/status?folder=bench")
        return status

    def scanned(self, count: int) -> bool:
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


def _syncthing(root: Path, source: Path, count: int) -> dict[str, float]:
    alpha = Syncthing(root / "alpha", root / "alpha-share")
    beta = Syncthing(root / "beta", root / "beta-share")
    shutil.copytree(source, alpha.folder)
    beta.folder.mkdir(parents=True)
    figures: dict[str, float] = {}
    try:
        for node in (alpha, beta):
            node.start()
            node.configure()
        start = time.perf_counter()
        alpha.add_folder([alpha.id])
        wait_for(lambda: alpha.scanned(count), "syncthing's first scan", DEADLINE_S)
        figures["scan_s"] = time.perf_counter() - start
        pids = [p.pid for p in (alpha.process, beta.process) if p is not None]
        cpu_before = sum(_cpu_s(pid) for pid in pids)
        want = tree_digest(alpha.folder, _theirs_skip)
        start = time.perf_counter()
        beta.add_peer(alpha)  # devices before the folders that name them: a folder
        alpha.add_peer(beta)  # drops the devices its instance does not know
        beta.add_folder([beta.id, alpha.id])
        alpha.request("PUT", "/rest/config/folders/bench", {
            **alpha.get("/rest/config/folders/bench"),
            "devices": [{"deviceID": alpha.id}, {"deviceID": beta.id}],
        })  # fmt: skip
        wait_for(lambda: tree_digest(beta.folder, _theirs_skip) == want, "beta's tree", DEADLINE_S)
        figures["sync_s"] = time.perf_counter() - start
        figures["sync_cpu_s"] = sum(_cpu_s(pid) for pid in pids) - cpu_before
        wait_for(lambda: beta.idle() and alpha.idle(), "syncthing idle", DEADLINE_S)
        time.sleep(IDLE_SETTLE_S)  # a measurement interval, not a wait for a condition
        assert beta.process is not None
        figures["idle_rss_mib"] = _rss_mib(beta.process.pid)
        beta.stop()
        start = time.perf_counter()
        beta.start()
        wait_for(lambda: _connected(beta, alpha.id) and beta.idle(), "syncthing idle", 600)
        figures["restart_s"] = time.perf_counter() - start
        assert beta.process is not None
        figures["restart_rss_mib"] = _rss_mib(beta.process.pid)
    finally:
        for node in (alpha, beta):
            node.stop()
    return figures


def _connected(node: Syncthing, other: str) -> bool:
    connections = node.get("/rest/system/connections")["connections"]
    return bool(connections.get(other, {}).get("connected"))


# --- report ----------------------------------------------------------------------------


def _report(
    ctx: BenchContext, count: int, ours: dict[str, float], theirs: dict[str, float]
) -> None:
    rows = [
        ("scan_s", "first scan (share add until scanned)", "s",
         "p2psync: share add on a running daemon until its status lists every file; "
         "Syncthing: the folder added until it is idle with every file"),
        ("sync_s", "first sync to an empty peer", "s",
         "from linking the peers until the destination tree is byte-identical"),
        ("sync_cpu_s", "CPU seconds, both daemons, during the first sync", "CPU-s",
         "utime + stime from /proc of both processes"),
        ("idle_rss_mib", "idle RSS of the receiver after the first sync", "MiB",
         f"VmRSS {IDLE_SETTLE_S:g} s after both sides are idle"),
        ("restart_s", "restart to connected and idle", "s",
         "the receiver restarted (SIGTERM for p2psync, SIGKILL for Syncthing)"),
        ("restart_rss_mib", "idle RSS after a restart", "MiB",
         "VmRSS when idle after the restart"),
    ]  # fmt: skip
    for key, name, unit, note in rows:
        ctx.report(Metric(
            GROUP, f"{name}, {count} files", ours[key], unit, "Syncthing, same run",
            theirs[key], 1.0, note=note,
        ))  # fmt: skip
    for key, name in (("docs_loaded", "after the first sync"),
                      ("restart_docs_loaded", "after a restart")):  # fmt: skip
        ctx.report(Metric(
            GROUP, f"docs still loaded on the receiver {name}, {count} files", ours[key],
            "docs", "docs in the share", max(ours["docs"], 1.0), 0.01,
            note="docs_loaded from the share's status",
        ))  # fmt: skip
