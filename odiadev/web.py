"""The web tier on every core: several Daphne processes on one port (`python -m odiadev.web`).

Daphne runs one Python process, one core; it cannot fork workers itself. This launcher binds the listening sockets,
with a listen backlog sized for bursts (`WEB_BACKLOG`; the kernel caps it at `net.core.somaxconn`), then starts
`WEB_CONCURRENCY` Daphne processes that each serve an inherited socket (`daphne --fd`). The processes share
nothing else; the application is already stateless per process (Redis and the database hold the state).

Where the system has SO_REUSEPORT (Linux; `WEB_REUSE_PORT`, on by default), each process gets a socket of its own,
all bound to the same port, and the kernel spreads new connections, HTTP or websocket, over them by a hash of the
client's address and port. One socket shared by all let the kernel hand each connection to whichever process
accepted first, and Twisted accepts every connection waiting when it wakes: connections opened together (a client's
or a load balancer's keep-alive pool) all went to one process, which served them alone while the others idled
(8 keep-alive connections landed 8-0 in most tries; half the cores served them). The price: a process that is
restarting, or hung, still gets its share of new connections, which wait in its socket's queue (the socket stays
open across restarts, so they are answered by the replacement, not refused). `WEB_REUSE_PORT=0` shares one socket.

A child that exits is started again on its socket (after a pause that grows while children keep dying quickly, so a
crash at import does not spin); SIGTERM or SIGINT stops them all (SIGTERM to each, SIGKILL after `WEB_STOP_TIMEOUT`).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

APPLICATION = "odiadev.asgi:application"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def listening_sockets(host: str, port: int, backlog: int, *, count: int, reuse_port: bool) -> list[socket.socket]:
    """`count` sockets on one port, one per process (`reuse_port`), or one socket for all of them."""
    reuse_port = reuse_port and count > 1 and hasattr(socket, "SO_REUSEPORT")
    if not reuse_port:
        return [listening_socket(host, port, backlog)]
    # A port already in use must fail as a plain bind would, not be joined: another launcher left running (an old
    # release, a second `make run`) would silently share the traffic. A plain socket binds only a free port.
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host.strip("[]"), port))
        port = probe.getsockname()[1]  # port 0: the one the system chose, for every socket
    return [listening_socket(host, port, backlog, reuse_port=True) for _ in range(count)]


def cores() -> int:
    """Cores this process may run on (the affinity mask, which containers narrow, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return value in {"1", "true", "yes", "on"} if value else default


def listening_socket(host: str, port: int, backlog: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to host:port, listening with `backlog`, inheritable by the children; with `reuse_port`,
    one of a group of sockets on the same port among which the kernel spreads new connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class Launcher:
    """Keeps `concurrency` Daphne processes serving `sockets`: child n serves socket n (n modulo their number, so
    one socket is shared by all)."""

    def __init__(
        self, *, sockets: list[socket.socket], concurrency: int, daphne_args: list[str], stop_timeout: float
    ) -> None:
        self.sockets = sockets
        self.concurrency = concurrency
        self.daphne_args = daphne_args
        self.stop_timeout = stop_timeout
        self.children: dict[int, subprocess.Popen] = {}  # slot -> process
        self.started_at: dict[int, float] = {}
        self.failures: dict[int, int] = {}  # slot -> consecutive quick exits
        self.stopping = False

    def _command(self, fd: int) -> list[str]:
        daphne = Path(sys.executable).with_name("daphne")
        return [str(daphne), "--fd", str(fd), *self.daphne_args, APPLICATION]

    def start_child(self, slot: int) -> None:
        fd = self.sockets[slot % len(self.sockets)].fileno()
        proc = subprocess.Popen(self._command(fd), pass_fds=(fd,))  # noqa: S603 - our own command
        self.children[slot] = proc
        self.started_at[slot] = time.monotonic()
        print(f"odiadev.web: worker {slot} started (pid {proc.pid})", flush=True)  # noqa: T201

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        host, port = self.sockets[0].getsockname()[:2]
        shared = "one socket" if len(self.sockets) == 1 else "a socket each (SO_REUSEPORT)"
        print(  # noqa: T201
            f"odiadev.web: listening on {host}:{port}, {self.concurrency} Daphne processes, {shared}", flush=True
        )
        for slot in range(self.concurrency):
            self.start_child(slot)
        while not self.stopping:
            self._restart_exited()
            time.sleep(0.2)
        return self._stop_all()

    def _restart_exited(self) -> None:
        for slot, proc in list(self.children.items()):
            if self.stopping or proc.poll() is None:
                continue
            lived = time.monotonic() - self.started_at[slot]
            self.failures[slot] = self.failures.get(slot, 0) + 1 if lived < 5 else 0
            pause = min(30.0, 0.5 * 2 ** self.failures[slot]) if self.failures[slot] else 0.0
            print(  # noqa: T201
                f"odiadev.web: worker {slot} (pid {proc.pid}) exited with {proc.returncode}; "
                f"starting it again in {pause:.1f}s",
                flush=True,
            )
            deadline = time.monotonic() + pause
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self.stopping:
                self.start_child(slot)

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def _stop_all(self) -> int:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sock in self.sockets:
            sock.close()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-b", "--bind", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("-p", "--port", type=int, default=_env_int("WEB_PORT", 8000))
    parser.add_argument("-w", "--workers", type=int, default=_env_int("WEB_CONCURRENCY", cores()))
    parser.add_argument("--backlog", type=int, default=_env_int("WEB_BACKLOG", 2048))
    parser.add_argument(
        "--reuse-port", action=argparse.BooleanOptionalAction, default=_env_bool("WEB_REUSE_PORT", default=True)
    )
    parser.add_argument("--stop-timeout", type=float, default=float(_env_int("WEB_STOP_TIMEOUT", 10)))
    args, daphne_args = parser.parse_known_args(argv)  # the rest goes to each Daphne (e.g. --proxy-headers)
    concurrency = max(1, args.workers)
    sockets = listening_sockets(args.bind, args.port, args.backlog, count=concurrency, reuse_port=args.reuse_port)
    launcher = Launcher(
        sockets=sockets, concurrency=concurrency, daphne_args=daphne_args, stop_timeout=args.stop_timeout
    )
    return launcher.run()


if __name__ == "__main__":
    sys.exit(main())
