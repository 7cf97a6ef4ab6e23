"""Separate "hosts" on one machine: a Linux network namespace each, joined by veth links to a bridge in the root
namespace (which is the client's host). Each host has its loopback and one address on 10.77.0.0/24; a process
started on a host also gets its own hostname (a UTS namespace), so `hostname:pid` names it as on a real machine.

Everything this module creates is named with PREFIX, so a run can remove what an interrupted run left behind. Runs
are serialized by a lock file: a second run waits for the first instead of tearing its hosts down.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "odmh"  # namespaces, links and temporary folders of this test
BRIDGE = f"{PREFIX}-br"
SUBNET = "10.77.0"
CLIENT_ADDRESS = f"{SUBNET}.1"
TMP = Path("/tmp")  # noqa: S108 - root-owned, names with our prefix, removed by the test
LOCK_FILE = TMP / f"{PREFIX}.lock"


def available() -> str | None:
    """Why hosts cannot be built here (None when they can)."""
    if os.geteuid() != 0:
        return "the multi-host test needs root (network namespaces)"
    for tool in ("ip", "unshare", "runuser"):
        if shutil.which(tool) is None:
            return f"the multi-host test needs `{tool}`"
    probe = f"{PREFIX}-probe"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"network namespaces are refused here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def namespace_pids(namespace: str) -> list[int]:
    result = _ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in result.stdout.split()] if result.returncode == 0 else []


def kill_namespace(namespace: str, sig: int = signal.SIGKILL) -> list[int]:
    """Send `sig` to every process of a host; the pids it was sent to."""
    pids = namespace_pids(namespace)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


def _stop_namespaces(namespaces: list[str]) -> None:
    """Stop every process of these hosts (SIGTERM, then SIGKILL after 3 s), then remove the namespaces."""
    for sig, grace in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
        for namespace in namespaces:
            kill_namespace(namespace, sig)
        deadline = time.monotonic() + grace
        while any(namespace_pids(namespace) for namespace in namespaces) and time.monotonic() < deadline:
            time.sleep(0.1)
    for namespace in namespaces:
        _ip("netns", "del", namespace, check=False)


def remove_leftovers() -> None:
    """Processes, namespaces, links and folders with this test's prefix (an earlier run that was interrupted)."""
    names = [line.split()[0] for line in _ip("netns", "list", check=False).stdout.splitlines() if line.strip()]
    _stop_namespaces([namespace for namespace in names if namespace.startswith(f"{PREFIX}-")])
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(f"{PREFIX}-"):
            _ip("link", "del", name, check=False)
    for folder in TMP.glob(f"{PREFIX}-*"):
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Host:
    name: str  # hostname, e.g. worker-a
    namespace: str
    link: str  # the veth end on the bridge (root namespace): down cuts this host off
    address: str
    procs: list[subprocess.Popen] = field(default_factory=list)

    def command(self, argv: list[str]) -> list[str]:
        """`argv` as run on this host: in its network namespace, under its own hostname."""
        return [
            "ip",
            "netns",
            "exec",
            self.namespace,
            "unshare",
            "--uts",
            "sh",
            "-c",
            f'hostname {self.name} && exec "$@"',
            "sh",
            *argv,
        ]

    def start(self, label: str, argv: list[str], *, env: dict, log_dir: Path, cwd: Path) -> subprocess.Popen:
        log = (log_dir / f"{self.name}-{label}.log").open("w")
        proc = subprocess.Popen(
            self.command(argv), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str], *, env: dict, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    def pids(self) -> list[int]:
        return namespace_pids(self.namespace)

    def kill_all(self) -> list[int]:
        return kill_namespace(self.namespace)

    def link_down(self) -> None:
        _ip("link", "set", self.link, "down")

    def link_up(self) -> None:
        _ip("link", "set", self.link, "up")


class Network:
    """The bridge and the hosts on it; `close()` removes them all (and kills what runs on them)."""

    def __init__(self) -> None:
        self.hosts: dict[str, Host] = {}
        self._lock = LOCK_FILE.open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # another run of this test finishes first
        remove_leftovers()
        self.tmp = TMP / f"{PREFIX}-{os.getpid()}"
        self.tmp.mkdir(mode=0o755)
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{CLIENT_ADDRESS}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")

    def add(self, name: str, number: int) -> Host:
        short = "".join(part[0] for part in name.split("-")) if "-" in name else name[:4]
        namespace, link = f"{PREFIX}-{name}", f"{PREFIX}-{short}"
        host = Host(name=name, namespace=namespace, link=link, address=f"{SUBNET}.{number}")
        _ip("netns", "add", namespace)
        self.hosts[name] = host  # (removed by close() from here on)
        _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "set", link, "master", BRIDGE, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        return host

    def close(self) -> None:
        try:
            _stop_namespaces([host.namespace for host in self.hosts.values()])
            for host in self.hosts.values():
                for proc in host.procs:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5)  # (the `ip netns exec` wrappers: reaped, no zombies left)
            remove_leftovers()
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
