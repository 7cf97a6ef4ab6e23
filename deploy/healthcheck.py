"""Container health checks, without Django (each probe is a fresh Python process: it answers in well under a second).

    python deploy/healthcheck.py web [--port 8000]     GET /health/live on this container answers 200
    python deploy/healthcheck.py worker [--ready]      this container's Celery worker heartbeat is in Redis
    python deploy/healthcheck.py beat [--max-age 600]  celery beat has written its schedule file lately

A worker process writes `<REDIS_KEY_PREFIX>:workers:<hostname>:<pid>` to the cache Redis every
WORKER_HEARTBEAT_INTERVAL seconds with a TTL of three intervals (core/heartbeat.py); the key names the container's
hostname, so the check looks for any key of this hostname. `--ready` also wants `"ready": true` (models loaded and
warmed; a GPU worker compiles within DIA_WARMUP_BUDGET_S first). Beat rewrites its schedule file at least every
3 minutes while it runs. Exit status 0: healthy; 1: not.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import socket
import sys
import time
import urllib.request


def check_web(port: int) -> str | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/health/live", headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 (a fixed http:// address)
            return None if response.status == 200 else f"/health/live answered {response.status}"
    except Exception as exc:
        return f"/health/live: {exc}"


def check_worker(ready: bool) -> str | None:
    import redis

    url = os.environ.get("REDIS_CACHE_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = os.environ.get("REDIS_KEY_PREFIX") or "odiadev"
    host = socket.gethostname()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=3)
        keys = list(client.scan_iter(match=f"{prefix}:workers:{host}:*", count=1000))
        beats = [json.loads(value) for value in client.mget(keys) if value] if keys else []
    except Exception as exc:
        return f"redis: {exc}"
    if not beats:
        return f"no worker heartbeat from {host}"
    if ready and not any(beat.get("ready", True) for beat in beats):
        warming = ", ".join(str(beat.get("warming", "?")) for beat in beats)
        return f"worker on {host} is still warming up ({warming})"
    return None


def check_beat(schedule: str, max_age: float) -> str | None:
    files = glob.glob(f"{schedule}*")
    if not files:
        return f"no beat schedule file at {schedule}"
    age = time.time() - max(os.path.getmtime(path) for path in files)
    return None if age <= max_age else f"beat schedule last written {age:.0f} s ago"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["web", "worker", "beat"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT") or 8000))
    parser.add_argument("--ready", action="store_true", help="worker: also require the heartbeat's ready flag")
    parser.add_argument("--schedule", default="var/celerybeat-schedule")
    parser.add_argument("--max-age", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.kind == "web":
        problem = check_web(args.port)
    elif args.kind == "worker":
        problem = check_worker(args.ready)
    else:
        problem = check_beat(args.schedule, args.max_age)
    if problem:
        sys.stderr.write(f"unhealthy: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
