"""Worker heartbeats: each worker process writes what it runs to Redis every few seconds, with a short TTL.

/health and /metrics read them to tell which workers are up and which engines they have loaded; a worker that dies
simply stops refreshing its key and drops out after the TTL.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time

from django.conf import settings
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)

_started_in_pid: int | None = None
# What this process has loaded, by kind ("engines", "encoder"), reported with every beat.
_loaded: dict[str, object] = {}
# Set to beat at once (without waiting out the interval): when the worker becomes ready.
_wake = threading.Event()


def heartbeat_report(kind: str, info: object) -> None:
    """Record what this worker process has loaded; the next heartbeat carries it. A callable is called at
    every beat (for figures that change, such as VRAM in use)."""
    _loaded[kind] = info


def heartbeat_ready() -> None:
    """This worker process has loaded and warmed everything: it says so now, not at the next beat."""
    _loaded.pop("warming", None)
    _loaded["ready"] = True
    _wake.set()


def worker_is_ready(worker: dict) -> bool:
    """Whether a heartbeat comes from a worker that takes jobs (a worker still warming up does not; heartbeats from
    before the flag existed count as ready)."""
    return bool(worker.get("ready", True))


def _current_report() -> dict:
    report = {}
    for kind, info in list(_loaded.items()):
        try:
            report[kind] = info() if callable(info) else info
        except Exception:
            logger.warning("heartbeat could not read %s", kind, exc_info=True)
    return report


def _prefix() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:workers:"


def worker_id() -> str:
    """This process as heartbeats name it: hostname:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_is_alive(worker: str) -> bool:
    return bool(get_redis_connection("default").exists(f"{_prefix()}{worker}"))


def heartbeat_start(*, queues: list[str]) -> None:
    """Start the heartbeat thread of this process (once per process; safe to call again after a fork). It says
    `ready: false` until `heartbeat_ready()`: /health counts the worker as serving its queues only then."""
    global _started_in_pid
    if _started_in_pid == os.getpid():
        return
    _started_in_pid = os.getpid()
    _loaded.setdefault("ready", False)
    interval = settings.WORKER_HEARTBEAT_INTERVAL
    key = f"{_prefix()}{worker_id()}"
    info = {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "queues": queues,
        "started_at": time.time(),
    }

    def beat() -> None:
        while True:
            try:
                payload = json.dumps({"engines": [], **info, **_current_report(), "seen_at": time.time()})
                get_redis_connection("default").set(key, payload, ex=interval * 3)
            except Exception:
                logger.warning("worker heartbeat failed", exc_info=True)
            _wake.wait(interval)
            _wake.clear()

    threading.Thread(target=beat, name="odiadev-heartbeat", daemon=True).start()


def workers_alive() -> list[dict]:
    client = get_redis_connection("default")
    keys = list(client.scan_iter(match=f"{_prefix()}*", count=100))
    if not keys:
        return []
    return [json.loads(value) for value in client.mget(keys) if value]
