"""The stack's processes for tests that start their own: Daphne and Celery workers as `make run` starts them, each a
process group of its own with its output in `<log_dir>/<name>.log`, stopped with SIGTERM (SIGKILL after 15 s)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent
BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL of a connection's settings, for the processes a test starts on the same database."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    auth = quote(settings_dict["USER"] or "", safe="")
    if settings_dict.get("PASSWORD"):
        auth += ":" + quote(settings_dict["PASSWORD"], safe="")
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{settings_dict['NAME']}"


def start(name: str, command: list[str], env: dict, log_dir: Path) -> subprocess.Popen:
    log = (log_dir / f"{name}.log").open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def start_web(port: int, env: dict, log_dir: Path) -> subprocess.Popen:
    """One Daphne process serving the app (HTTP and websockets) on 127.0.0.1:`port`; its log is `daphne.log`."""
    command = [str(BIN_DIR / "daphne"), "-b", "127.0.0.1", "-p", str(port), "odiadev.asgi:application"]
    return start("daphne", command, env, log_dir)


def start_worker(name: str, queues: str, env: dict, log_dir: Path) -> subprocess.Popen:
    """One Celery worker (one task at a time) consuming `queues`, named `name@<host>`; its log is `worker.log`."""
    command = [str(BIN_DIR / "celery"), "-A", "odiadev", "worker", "-Q", queues, "--concurrency", "1"]
    command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", f"{name}@%h"]
    return start("worker", command, env, log_dir)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(predicate, timeout: float, what: str, procs, logs: Callable[[], str]) -> None:
    """Until `predicate()` is true; fails at once, with the processes' `logs()`, if one of `procs` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: a process exited with {proc.returncode}\n{logs()}")
        try:
            if predicate():
                return
        except Exception:  # noqa: S110 - not up yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout}s\n{logs()}")


def wait_for_web(base_url: str, procs, logs: Callable[[], str], timeout: float = 30) -> None:
    """Until the web process answers its liveness check."""
    wait_for(lambda: httpx.get(f"{base_url}/health/live", timeout=1).status_code == 200, timeout, "daphne", procs, logs)
