"""The end-to-end soak: three real daemons, one share, random work and chaos, then a
check that nothing was lost (docs/soak.md).

``python -m tests.soak.soak --minutes N [--seed S]`` (``make soak MINUTES=N SEED=S``)
prints the counts and exits 1 on any loss; tests/soak/test_soak.py runs it for three
minutes. Each device is a host in a network namespace of the netns testbed
(tests/support/testbed.py, root only), so a partition is real: blackhole routes between
two hosts, and their connections aborted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from p2psync.cli.doctor import HEALTHY
from p2psync.config import PeerConfig, save_config
from p2psync.control.home import Home
from p2psync.daemon.configedits import load_or_init_config
from p2psync.ids import DeviceId
from tests.soak import actions
from tests.soak.model import Findings, Model, check, read_tree
from tests.support.daemons import cli
from tests.support.testbed import PORT, Testbed, run_ip, share_among

NAMES = ("a", "b", "c")
CONVERGE_S = 240.0  # a healed link may wait out a dial back-off of up to a minute
STABLE_S = 3.0  # trees and idleness must hold this long: a delete is told 2-3 s late
POLL_S = 0.5
# Deletes and renames are rare: a deleted file's tokens may be gone, so each delete
# weakens the check of every token in the file.
ACTION_WEIGHTS = {"save": 55, "append": 30, "create": 4, "rename": 3, "delete": 1.5}
MAX_FILES = 16


@dataclass
class Report:
    """The run's counts and findings, and the text that says them."""

    seed: int
    model: Model
    findings: Findings = field(default_factory=Findings)
    converged_s: float | None = None
    errors: list[str] = field(default_factory=list)
    kept: Path | None = None
    trail: list[str] = field(default_factory=list)
    """The daemons' log lines naming a file of a finding (``trail``), so
    a failure far from its kept folder (a CI machine) still says what happened."""

    @property
    def failed(self) -> bool:
        return self.findings.lost or self.converged_s is None or bool(self.errors)

    def text(self, shown: int = 1 << 30) -> str:
        """The counts, then each finding (at most ``shown`` of each kind)."""
        f, counts = self.findings, self.model.counts
        lines = [f"soak seed {self.seed} (replay: SEED={self.seed})"]
        lines += [f"  {what}: {n}" for what, n in sorted(counts.items())]
        lines += [
            f"  tokens live {f.live}, gone {f.gone}; withdrawn (raced saves): "
            f"{dict(f.withdrawn) or 0}",
            f"  missing tokens: {len(f.missing)}",
            f"  duplicated tokens: {len(f.duplicated)}",
            *(f"    {n} tokens in each of {files}" for files, n in f.duplicated_in.items()),
            f"  tokens only in conflict copies: {len(f.only_in_conflicts)}",
            f"  tree differences: {len(f.tree_differences)}",
            f"  doctor findings: {len(f.doctor)}",
            "  convergence: "
            + (f"{self.converged_s:.1f} s" if self.converged_s is not None else "NOT converged"),
        ]
        for title, found in (
            ("MISSING", f.missing), ("DUPLICATED", f.duplicated),
            ("ONLY IN CONFLICT COPIES", f.only_in_conflicts),
            ("TREE DIFFERENCE", f.tree_differences), ("DOCTOR", f.doctor), ("ERROR", self.errors),
        ):  # fmt: skip
            lines += [f"{title}: {item}" for item in found[:shown]]
            if len(found) > shown:
                lines.append(f"{title}: ... and {len(found) - shown} more (report.txt)")
        lines += [f"TRAIL {line}" for line in self.trail[-shown:]]
        if self.kept is not None:
            lines.append(f"kept (daemon.log per device, soak.log, report.txt): {self.kept}")
        return "\n".join(lines)


class Cluster:
    """The three devices of the run, their share, and the partitions between them."""

    def __init__(
        self, bed: Testbed, root: Path, model: Model, chunked_bytes: int | None = None
    ) -> None:
        self.model = model
        self.devices = {name: bed.device(root, name) for name in NAMES}
        self.share = share_among(list(self.devices.values()))
        self.lock = threading.Lock()  # one start or stop of a daemon at a time
        self.stuck: list[str] = []
        """Daemons that did not stop on SIGTERM within 30 s (a finding: it fails the run)."""
        for device in self.devices.values():
            home = Home.resolve(device.home)
            config = load_or_init_config(home)
            for other in self.devices.values():
                if other is not device:
                    address = (f"{other.host.ip}:{PORT}",)
                    config = config.with_peer(PeerConfig(DeviceId.parse(other.id), address))
            if chunked_bytes is not None:  # files past it become chunked docs
                config = replace(config, chunked_file_bytes=chunked_bytes,
                                 chunk_max_bytes=max(chunked_bytes // 4, 1024))  # fmt: skip
            save_config(home.config_path, config)

    def place(self, name: str) -> actions.Place:
        device = self.devices[name]

        def export(guid: str) -> bytes | None:
            reply = device.call("doc.export", share=self.share, doc=guid)
            return base64.b64decode(reply["update"]) if reply else None

        return actions.Place(name, device.folder, export)

    def start(self) -> None:
        for device in self.devices.values():
            device.folder.mkdir(parents=True, exist_ok=True)
            device.launch(mdns=False)
        for device in self.devices.values():
            device.wait_serving()

    def stop(self, name: str, sig: int) -> None:
        """Stop one daemon with ``sig`` (SIGKILL: no chance to clean up)."""
        device = self.devices[name]
        with self.lock:
            if device.process is None:
                return
            device.process.send_signal(sig)
            try:
                device.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.model.count("SIGTERM not obeyed in 30 s: SIGKILL")
                self.stuck.append(f"the daemon of {name} did not stop within 30 s of a "
                                  f"SIGTERM at {self.model.now():.1f}s")  # fmt: skip
                device.process.kill()
                device.process.wait()
            device.process = None

    def restart(self, name: str) -> None:
        device = self.devices[name]
        with self.lock:
            if device.process is None:
                device.launch(mdns=False)
                device.wait_serving()
                self.model.count("restart", f"daemon of {name} serves again")

    def partition(self, one: str, other: str, cut: bool) -> None:
        """Make ``one`` and ``other`` unable to reach each other (``cut``), or heal."""
        pairs = ((one, other), (other, one))
        for a, b in pairs:
            host, far = self.devices[a].host, self.devices[b].host
            run_ip("-n", host.ns, "route", "add" if cut else "del", "blackhole", f"{far.ip}/32")
        for a, b in pairs if cut else ():
            kill = self.devices[a].host.exec_args("ss", "-K", "dst", self.devices[b].host.ip)
            subprocess.run(kill, capture_output=True, check=False, timeout=30)

    def idle(self) -> bool:
        for device in self.devices.values():
            reply = device.call("idle")
            if not reply or not reply["idle"] or reply["connected"] != len(NAMES) - 1:
                return False
        return True

    def unsettled(self) -> list[str]:
        """What each daemon says of its peers, for a run that did not converge."""
        said = []
        for name, device in self.devices.items():
            idle, peers = device.call("idle"), device.call("peers")
            rows = (peers or {}).get("peers", [])
            said.append(f"{name}: idle {idle}; " + "; ".join(
                f"{r['device_id'][:7]} connected {r['connected']} in sync {r['in_sync']} "
                f"at {r['sync_pct']} %" for r in rows))  # fmt: skip
        return said

    def trees(self) -> dict[str, dict[str, bytes]]:
        return {name: read_tree(d.folder) for name, d in self.devices.items()}


def worker(cluster: Cluster, name: str, rng: random.Random, stop: threading.Event) -> None:
    """Random changes on one device until ``stop``: one at a time, so a device's
    saves race only its daemon, never each other."""
    place, model = cluster.place(name), cluster.model
    while not stop.wait(rng.uniform(0.05, 0.4)):  # the pause is workload, not waiting
        files = actions.text_files(place.folder)
        weights = dict(ACTION_WEIGHTS)
        if len(files) >= MAX_FILES:
            weights["create"] = 0
        if len(files) <= 6:
            weights["delete"] = weights["rename"] = 0
        action = rng.choices(list(weights), list(weights.values()))[0]
        if not files or action == "create":
            actions.create(model, place, rng)
            continue
        rel = rng.choice(files)
        if action == "save":
            actions.save(model, place, rel, rng.choice(actions.STYLES), rng)
        elif action == "append":
            actions.api_append(model, place, rel, rng)
        elif action == "rename":
            actions.rename(model, place, rel, rng)
        else:
            actions.delete(model, place, rel)


def chaos(cluster: Cluster, rng: random.Random, stop: threading.Event) -> None:
    """Daemon kills, stops and partitions, one at a time, until ``stop``."""
    model = cluster.model
    while not stop.wait(rng.uniform(3.0, 10.0)):
        one, other = rng.sample(NAMES, 2)
        kind = rng.choices(("kill", "term", "partition"), (5, 2, 3))[0]
        if kind == "partition":
            model.count("partition", f"{one} and {other} cut off from each other")
            cluster.partition(one, other, cut=True)
            try:
                stop.wait(rng.uniform(5.0, 20.0))  # how long the partition lasts
            finally:
                cluster.partition(one, other, cut=False)
                model.count("heal", f"{one} and {other} reach each other again")
            continue
        model.count("SIGKILL" if kind == "kill" else "SIGTERM", f"daemon of {one} stopped")
        cluster.stop(one, signal.SIGKILL if kind == "kill" else signal.SIGTERM)
        stop.wait(rng.uniform(0.5, 8.0))  # the daemon stays down while its worker saves
        cluster.restart(one)


def kill_storm(cluster: Cluster, name: str, rng: random.Random, stop: threading.Event) -> None:
    """Kill one device's daemon again and again (mostly SIGKILL), each time down for
    a moment while its worker saves, until ``stop``: many kills in a short run."""
    while not stop.wait(rng.uniform(0.2, 1.5)):
        kind = rng.choices(("kill", "term"), (9, 1))[0]
        cluster.model.count("SIGKILL" if kind == "kill" else "SIGTERM", f"daemon of {name} stopped")
        cluster.stop(name, signal.SIGKILL if kind == "kill" else signal.SIGTERM)
        stop.wait(rng.uniform(0.2, 2.0))
        cluster.restart(name)


def converge(cluster: Cluster) -> float | None:
    """Seconds until every daemon is idle with both peers and the trees are the same,
    holding for STABLE_S; None if that never happened within CONVERGE_S."""
    start = time.monotonic()
    stable_since: float | None = None
    last: dict[str, dict[str, bytes]] | None = None
    while time.monotonic() - start < CONVERGE_S:
        trees = cluster.trees()
        same = all(tree == trees[NAMES[0]] for tree in trees.values())
        if same and trees == last and cluster.idle():
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= STABLE_S:
                return stable_since - start
        else:
            stable_since = None
        last = trees
        time.sleep(POLL_S)  # a poll interval under the deadline above
    return None


def doctor(cluster: Cluster) -> list[str]:
    found = []
    for name, device in cluster.devices.items():
        result = cli(device.home, "doctor", "--json", check=False)
        try:
            logs = json.loads(result.stdout)["logs"]
        except (ValueError, KeyError):
            found.append(f"{name}: doctor exit {result.returncode}: {result.stderr.strip()}")
            continue
        found += [f"{name}: {log}" for log in logs if log["state"] not in HEALTHY]
    return found


TRAIL_LINES = 30
"""At most this many log lines per device in a failure's trail (the last ones)."""


def trail(root: Path, names: set[str]) -> list[str]:
    """Each device's last log lines that name one of ``names`` (the mirror's at any
    level, the rest above debug)."""
    found = []
    for log in sorted(root.glob("*/daemon.log")) if names else []:
        lines = log.read_text(errors="replace").splitlines()
        hits = [x for x in lines if _telling(x) and any(n in x for n in names)]
        found += [f"{log.parent.name}: {line}" for line in hits[-TRAIL_LINES:]]
    return found


def _telling(line: str) -> bool:
    return " DEBUG " not in line or " DEBUG p2psync.mirror." in line


def run(
    minutes: float,
    seed: int,
    root: Path,
    keep: Path,
    *,
    storm: bool = False,
    chunked_bytes: int | None = None,
) -> Report:
    """One soak run in ``root`` (removed at the end; moved to ``keep`` on failure);
    ``storm``: with a kill storm on every daemon (``kill_storm``); ``chunked_bytes``:
    text files past this size are chunked docs."""
    model = Model(seed)
    report = Report(seed, model)
    root.mkdir(parents=True, exist_ok=True)
    try:
        with Testbed() as bed:  # leaving it kills every daemon, also on failure
            soak(Cluster(bed, root, model, chunked_bytes), minutes, report, storm=storm)
    except Exception as exc:  # the report says it, and the run failed
        report.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        report.trail = trail(root, report.findings.suspects)
        (root / "soak.log").write_text(model.journal())
        (root / "report.txt").write_text(report.text())
        if report.failed:
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(root), keep)
            report.kept = keep
        else:
            shutil.rmtree(root, ignore_errors=True)
    return report


def soak(cluster: Cluster, minutes: float, report: Report, *, storm: bool = False) -> None:
    """Seed a few files, run the workers and the chaos for ``minutes`` (``storm``:
    also a kill storm on every daemon), heal, converge, check."""
    model, seed = cluster.model, report.seed
    model.started = time.monotonic()
    first, rng = cluster.place(NAMES[0]), random.Random(f"{seed}-seed")
    for _ in range(4):
        actions.create(model, first, rng)
    cluster.start()
    stop = threading.Event()
    jobs = {
        name: partial(worker, cluster, name, random.Random(f"{seed}-{name}"), stop)
        for name in NAMES
    }
    jobs["chaos"] = partial(chaos, cluster, random.Random(f"{seed}-chaos"), stop)
    if storm:
        for name in NAMES:
            rng = random.Random(f"{seed}-storm-{name}")
            jobs[f"storm {name}"] = partial(kill_storm, cluster, name, rng, stop)
    threads = [
        threading.Thread(target=_guard(job, what, report, stop)) for what, job in jobs.items()
    ]
    try:
        for thread in threads:
            thread.start()
        stop.wait(minutes * 60)  # the workload's length
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)  # bounded: each action is (chaos: restart <= 30 s)
    for name in NAMES:  # the chaos heals and restarts before it ends; this is a guard
        cluster.restart(name)
    report.errors += cluster.stuck
    report.converged_s = converge(cluster)
    if report.converged_s is None:
        report.errors += cluster.unsettled()
    folders = {n: d.folder for n, d in cluster.devices.items()}
    report.findings = check(model, cluster.trees(), folders)
    report.findings.doctor = doctor(cluster)


def _guard(
    job: Callable[[], None], what: str, report: Report, stop: threading.Event
) -> Callable[[], None]:
    """Run ``job``; an exception ends the whole run and is reported."""

    def guarded() -> None:
        try:
            job()
        except Exception as exc:
            report.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            stop.set()

    return guarded


def kept_folder(seed: int) -> Path:
    """Where a failed run's folder goes: ``$SOAK_KEEP`` or the temp dir, out of
    pytest's own temp folders (which other runs on the machine rotate away)."""
    base = Path(os.environ.get("SOAK_KEEP") or tempfile.gettempdir())
    return base / f"p2psync-soak-failed-{seed}-{int(time.time())}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("MINUTES", "10")))
    parser.add_argument(
        "--seed", type=int, default=int(os.environ.get("SEED") or random.randrange(1 << 31))
    )
    parser.add_argument(
        "--kill-storm",
        action="store_true",
        default=bool(os.environ.get("KILL_STORM")),
        help="also kill every daemon every second or two (about 1,000 kills in 20 minutes)",
    )
    parser.add_argument(
        "--chunked-bytes",
        type=int,
        default=int(os.environ.get("CHUNKED_BYTES") or 0) or None,
        help="make text files past this many bytes chunked docs (default: the daemon's)",
    )
    args = parser.parse_args(argv)
    storm = " with a kill storm" if args.kill_storm else ""
    chunked = f", files past {args.chunked_bytes} bytes chunked" if args.chunked_bytes else ""
    print(f"soak: {args.minutes} minutes{storm}{chunked}, seed {args.seed}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="p2psync-soak-"))
    report = run(args.minutes, args.seed, root, kept_folder(args.seed), storm=args.kill_storm,
                 chunked_bytes=args.chunked_bytes)  # fmt: skip
    print(report.text(shown=30))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
