"""Which TCP connections belong to a process: the suite's own Redis connections among those of the live servers
that run alongside it (CLIENT LIST names each client by its address, our side's port)."""

from __future__ import annotations

import os
from pathlib import Path


def local_ports(pid: int | None = None) -> set[int]:
    """The local ports of the process's open TCP sockets (this process by default)."""
    inodes = set()
    for fd in Path(f"/proc/{pid or os.getpid()}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def own_redis_clients(clients: list[dict]) -> list[dict]:
    """Of Redis's CLIENT LIST, the connections this process opened."""
    ports = local_ports()
    return [client for client in clients if int(client["addr"].rsplit(":", 1)[1]) in ports]
