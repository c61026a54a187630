"""A LAN in Linux network namespaces: hosts on one bridge, one daemon per host.

Everything lives in namespaces this module creates, so the machine's own networking
is untouched: the bridge sits in a namespace of its own (``<prefix>-br``), each host
in another (``<prefix>-hN``), joined by a veth pair created inside the bridge's
namespace (the host end moved straight into the host's). The subnet 10.77.0.0/24
exists only there. Multicast is on for every interface and the bridge does no
multicast snooping, so mDNS flows as on a plain switch.

``Testbed`` is a context manager: leaving it (also on failure) stops the daemons and
deletes every namespace, which deletes the veths and the bridge with them.
Namespaces left behind by a killed run (their creator's pid is gone) are deleted
when the next testbed starts. Creating namespaces needs root; without it ``Testbed``
raises TestbedError with a sentence saying so (the tests fail, they do not skip).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from p2psync.config import Member, ShareConfig, save_config
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.daemon.configedits import load_or_init_config
from p2psync.errors import ControlError
from p2psync.ids import DeviceId, ShareId
from tests.support.daemons import DEADLINE_S, Device, wait_for

SUBNET = "10.77.0"
PORT = 22070
NS_PREFIX = "p2psnet"


class TestbedError(RuntimeError):
    """The namespaces could not be created or configured (says what and why)."""

    __test__ = False


def ip_command() -> str:
    found = shutil.which("ip") or ("/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else None)
    if found is None:
        raise TestbedError("the netns tests need iproute2's `ip` (apt-get install iproute2)")
    return found


def run_ip(*args: str) -> None:
    result = subprocess.run([ip_command(), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TestbedError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


class Host:
    """One namespace with one interface (``eth0``, address ``SUBNET.N``)."""

    def __init__(self, testbed: Testbed, index: int) -> None:
        self.testbed = testbed
        self.index = index
        self.ns = f"{testbed.prefix}-h{index}"
        self.ip = f"{SUBNET}.{index + 1}"
        self.port_name = f"v{index}"  # the bridge's end of the veth, in its namespace
        run_ip("netns", "add", self.ns)
        testbed.namespaces.append(self.ns)
        self._sysctl("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
        br = testbed.bridge_ns
        run_ip("-n", br, "link", "add", self.port_name, "type", "veth",
               "peer", "name", "eth0", "netns", self.ns)  # fmt: skip
        run_ip("-n", br, "link", "set", self.port_name, "master", "br0", "multicast", "on", "up")
        run_ip("-n", self.ns, "addr", "add", f"{self.ip}/24", "dev", "eth0")
        run_ip("-n", self.ns, "link", "set", "eth0", "multicast", "on", "up")
        run_ip("-n", self.ns, "link", "set", "lo", "up")

    def _sysctl(self, *settings: str) -> None:
        command = [ip_command(), "netns", "exec", self.ns, "sysctl", "-qw", *settings]
        subprocess.run(command, capture_output=True, check=False)  # IPv6 may be off: fine

    def link_down(self) -> None:
        """Unplug the host: its bridge port goes down (the host sees no carrier)."""
        run_ip("-n", self.testbed.bridge_ns, "link", "set", self.port_name, "down")

    def link_up(self) -> None:
        run_ip("-n", self.testbed.bridge_ns, "link", "set", self.port_name, "up")

    def move_to(self, address: str) -> None:
        """Give eth0 ``address`` instead of the current one (a new DHCP lease)."""
        # Deleting the primary address would delete a second one in its subnet with it.
        run_ip("-n", self.ns, "addr", "del", f"{self.ip}/24", "dev", "eth0")
        run_ip("-n", self.ns, "addr", "add", f"{address}/24", "dev", "eth0")
        self.ip = address

    def drop_connections(self) -> None:
        """Abort this host's TCP connections on the subnet, as if they had timed out
        during a long outage (``ss -K``; the peers' ends are not told)."""
        result = subprocess.run(
            self.exec_args("ss", "-K", "dst", f"{SUBNET}.0/24"), capture_output=True, check=False
        )
        if result.returncode != 0:
            raise TestbedError(f"`ss -K` failed in {self.ns}: {result.stderr.decode().strip()}")

    def exec_args(self, *command: str) -> list[str]:
        """``command`` run inside this host's namespace."""
        return [ip_command(), "netns", "exec", self.ns, *command]


class Testbed:
    """A bridge namespace and hosts on it; see the module docstring."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise TestbedError("the netns tests must run as root to create network namespaces")
        ip_command()
        self.prefix = f"{NS_PREFIX}{os.getpid()}"
        self.bridge_ns = f"{self.prefix}-br"
        self.namespaces: list[str] = []
        self.hosts: list[Host] = []
        self.devices: list[NetnsDevice] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Testbed:
        remove_stale_namespaces()
        try:
            run_ip("netns", "add", self.bridge_ns)
            self.namespaces.append(self.bridge_ns)
            run_ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge",
                   "mcast_snooping", "0")  # fmt: skip
            run_ip("-n", self.bridge_ns, "link", "set", "br0", "multicast", "on", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def add_host(self) -> Host:
        try:
            host = Host(self, len(self.hosts) + 1)
        except BaseException:
            self.close()
            raise
        self.hosts.append(host)
        return host

    def device(self, root: Path, name: str) -> NetnsDevice:
        """A device on a new host of its own."""
        device = NetnsDevice(root, name, self.add_host())
        self.devices.append(device)
        return device

    def spawn(self, host: Host, *command: str, log: Path) -> subprocess.Popen[bytes]:
        """Run ``command`` inside ``host``'s namespace until the testbed closes."""
        with log.open("ab") as out:
            process = subprocess.Popen(host.exec_args(*command), stdout=out, stderr=out)
        self.processes.append(process)
        return process

    def close(self) -> None:
        """Stop every daemon and process, delete every namespace (idempotent)."""
        for device in self.devices:
            device.kill()
        for process in self.processes:
            _stop(process)
        self.processes.clear()
        for ns in reversed(self.namespaces):
            subprocess.run([ip_command(), "netns", "del", ns], capture_output=True, check=False)
        self.namespaces.clear()


def share_among(devices: Sequence[Device]) -> str:
    """One new share held by every device, each a member on every other (what
    ``make_share`` does with the CLI, written straight into the configs: the CLI
    costs seconds per call on a loaded machine)."""
    share = ShareId.new()
    for device in devices:
        members = tuple(Member(DeviceId.parse(o.id)) for o in devices if o is not device)
        home = Home.resolve(device.home)
        config = load_or_init_config(home)
        shared = ShareConfig(share, device.folder.resolve(), members)
        save_config(home.config_path, config.with_share(shared))
    return str(share)


def remove_stale_namespaces() -> None:
    """Delete testbed namespaces whose creating process no longer exists."""
    listing = subprocess.run(
        [ip_command(), "netns", "list"], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        pid_text = name.removeprefix(NS_PREFIX).split("-")[0]
        if name.startswith(NS_PREFIX) and pid_text.isdigit() and not _alive(int(pid_text)):
            subprocess.run([ip_command(), "netns", "del", name], capture_output=True, check=False)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not end within the deadline."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class NetnsDevice(Device):
    """A device whose daemon runs on ``host`` (its CLI talks to it over the Unix
    socket, which network namespaces do not separate)."""

    def __init__(self, root: Path, name: str, host: Host) -> None:
        super().__init__(root, name)
        self.host = host

    def start(self, port: int = PORT, *, mdns: bool = True, host: str = "") -> None:
        self.launch(port, mdns=mdns, host=host)
        self.wait_serving()

    def launch(self, port: int = PORT, *, mdns: bool = True, host: str = "") -> None:
        """Start the daemon without waiting for it (``wait_serving``), listening on
        ``host`` (default: the host's address); ``mdns`` false adds ``--no-mdns``."""
        flags = [] if mdns else ["--no-mdns"]
        command = [sys.executable, "-m", "p2psync", "--home", str(self.home), "run",
                   "--listen", f"{host or self.host.ip}:{port}", "--log-level", "debug",
                   *flags]  # fmt: skip
        with (self.home / "daemon.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.host.exec_args(*command), stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

    def wait_serving(self) -> None:
        wait_for(self._serving, f"the daemon of {self.home.name} to serve")
        self.address = self.call("status")["listen"]

    def _serving(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the daemon of {self.home.name} exited: {self.log_tail()}")
        return self.call("status") is not None

    def call(self, method: str, **params: Any) -> Any:
        """A control API call made in this process (the CLI costs a Python start-up
        per call, too slow for polling); None while the daemon does not answer."""
        try:
            with ControlClient(Home.resolve(self.home).socket_path, timeout_s=5.0) as client:
                return client.call(method, **params)
        except (ControlError, OSError):
            return None

    def export(self, name: str) -> bytes | None:
        """The doc of ``name`` in this device's share folder (as ``doc export``)."""
        status = self.call("status")
        folder = str(self.folder.resolve())
        shares = [s["id"] for s in status["shares"] if s["path"] == folder] if status else []
        result = self.call("doc.export", share=shares[0], doc=name) if shares else None
        return base64.b64decode(result["update"]) if result else None

    def connected(self) -> set[str]:
        status = self.call("status")
        return set(status["connected"]) if status else set()

    def kill(self) -> None:
        """Stop the daemon: SIGTERM, then SIGKILL if it does not stop in time."""
        if self.process is not None:
            _stop(self.process)
            self.process = None

    def log_tail(self, lines: int = 20) -> str:
        path = self.home / "daemon.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        path = self.home / "daemon.log"
        return path.read_text(errors="replace") if path.exists() else ""
