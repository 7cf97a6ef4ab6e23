"""Load test against a running server: many API users at once (issue 13, "Hold 100+ users").

Each simulated user loops for `--duration` seconds: it picks a request by the mix (default 60% cache hits, 30% new
texts, 10% reads), sends it, records latency and status, then thinks for `--think` seconds (uniform +-50%).

- cache hit: `POST /v1/tts` of the user's own primed text (the cache is per account by default), answered at once;
- new text: `POST /v1/tts` of a text never sent before (202, queued; the bench does not wait for its audio);
- read: `GET /v1/tts/<id>` of one of the user's jobs.

Before the clock starts, every user's hit text is synthesized once (priming) and checked to come back `cached`.
`--burst N` instead sends N cache-hit requests at the same moment and counts answers by status and connections
that got none (refused, reset, or timed out after `--timeout`).

Keys: `--api-key` (repeat it; users share them round-robin) or `--create-users N`, which runs `manage.py shell` in
`--project` with this environment (DATABASE_URL, ...) to create N users on `--plan` with one key each.

    python bench/load.py --create-users 100 --duration 150 --out bench/measured/load.json
    python bench/load.py --api-key odk_... --users 100 --burst 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("cache_hit", "new_text", "read")
WORDS = (
    "amber river quiet morning signal garden silver window harbor paper lantern meadow engine copper valley thunder "
    "pocket orbit canvas velvet marble island forest winter summer beacon crystal falcon"
).split()

CREATE_USERS = """
from accounts.services import api_key_create, user_create
from billing.services import plan_assign
run, count, plan = {run!r}, {count}, {plan!r}
for i in range(count):
    user = user_create(email=f"load-{{run}}-{{i}}@bench.invalid", password=None)
    plan_assign(user=user, slug=plan)
    print("KEY", api_key_create(user=user, name=f"load {{run}}").secret)
"""


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def new_text(rng: random.Random) -> str:
    return f"Load {uuid.uuid4().hex[:8]}: " + " ".join(rng.choice(WORDS) for _ in range(12)) + "."


def create_users(count: int, *, project: Path, plan: str) -> list[str]:
    run = uuid.uuid4().hex[:6]
    python = project / ".venv" / "bin" / "python"
    script = CREATE_USERS.format(run=run, count=count, plan=plan)
    command = [str(python if python.exists() else sys.executable), "manage.py", "shell", "-c", script]
    out = subprocess.run(command, cwd=project, capture_output=True, text=True, check=True, env=os.environ)  # noqa: S603
    keys = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("KEY ")]
    if len(keys) != count:
        raise SystemExit(f"created {len(keys)} keys of {count}:\n{out.stderr[-2000:]}")
    return keys


class User:
    def __init__(self, index: int, key: str) -> None:
        self.index = index
        self.headers = {"Authorization": f"Bearer {key}"}
        self.hit_text = f"User {index} asks for this sentence again and again, and the cache answers."
        self.job_ids: list[str] = []


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)  # kind -> seconds, answered requests
        self.status: dict[str, Counter] = defaultdict(Counter)  # kind -> status (or error name) -> count
        self.not_cached = 0

    def record(self, kind: str, seconds: float, status: int | str) -> None:
        self.status[kind][str(status)] += 1
        if isinstance(status, int):
            self.latency[kind].append(seconds)

    def summary(self, elapsed: float) -> dict:
        total = sum(sum(c.values()) for c in self.status.values())
        kinds = {}
        for kind in KINDS:
            values = self.latency.get(kind, [])
            kinds[kind] = {
                "requests": sum(self.status[kind].values()),
                "p50_ms": _ms(percentile(values, 50)),
                "p95_ms": _ms(percentile(values, 95)),
                "p99_ms": _ms(percentile(values, 99)),
                "by_status": dict(sorted(self.status[kind].items())),
            }
        errors = Counter()
        for counter in self.status.values():
            for status, n in counter.items():
                if not status.startswith("2"):
                    errors[status] += n
        return {
            "seconds": round(elapsed, 1),
            "requests": total,
            "requests_per_s": round(total / elapsed, 1) if elapsed else None,
            "kinds": kinds,
            "errors_by_status": dict(sorted(errors.items())),
            "cache_hits_not_cached": self.not_cached,
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


async def request(client: httpx.AsyncClient, user: User, kind: str, rng: random.Random, stats: Stats) -> None:
    started = time.perf_counter()
    try:
        if kind == "read":
            job_id = rng.choice(user.job_ids)
            response = await client.get(f"/v1/tts/{job_id}", headers=user.headers)
        else:
            text = user.hit_text if kind == "cache_hit" else new_text(rng)
            response = await client.post("/v1/tts", json={"text": text, "voice_id": "joe"}, headers=user.headers)
    except httpx.HTTPError as exc:
        stats.record(kind, time.perf_counter() - started, type(exc).__name__)
        return
    stats.record(kind, time.perf_counter() - started, response.status_code)
    if kind == "cache_hit" and response.status_code < 300 and not response.json().get("cached"):
        stats.not_cached += 1
    if kind == "new_text" and response.status_code == 202:
        user.job_ids.append(response.json()["id"])


async def user_loop(client, user: User, args, deadline: float, stats: Stats) -> None:
    rng = random.Random(user.index)
    await asyncio.sleep(rng.uniform(0, args.think))  # users arrive spread over one think time
    weights = (args.hits, args.new, args.reads)
    while time.perf_counter() < deadline:
        await request(client, user, rng.choices(KINDS, weights)[0], rng, stats)
        await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))


async def prime(client: httpx.AsyncClient, users: list[User], timeout: float) -> None:
    """Synthesize each user's hit text once and wait until a repeat of it is answered from the cache."""
    pending = {}
    for user in users:
        response = await client.post("/v1/tts", json={"text": user.hit_text, "voice_id": "joe"}, headers=user.headers)
        response.raise_for_status()
        body = response.json()
        user.job_ids.append(body["id"])
        if body["status"] != "succeeded":
            pending[body["id"]] = user
    deadline = time.perf_counter() + timeout
    while pending and time.perf_counter() < deadline:
        await asyncio.sleep(1)
        for job_id, user in list(pending.items()):
            status = (await client.get(f"/v1/tts/{job_id}", headers=user.headers)).json()["status"]
            if status == "succeeded":
                del pending[job_id]
            elif status in {"failed", "cancelled"}:
                raise SystemExit(f"priming job {job_id} {status}")
    if pending:
        raise SystemExit(f"{len(pending)} priming jobs not done after {timeout}s")


async def burst(client: httpx.AsyncClient, users: list[User], size: int) -> dict:
    stats = Stats()
    gate = asyncio.Event()

    async def one(i: int) -> None:
        await gate.wait()
        await request(client, users[i % len(users)], "cache_hit", random.Random(i), stats)

    tasks = [asyncio.create_task(one(i)) for i in range(size)]
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    gate.set()
    await asyncio.gather(*tasks)
    summary = stats.summary(time.perf_counter() - started)
    answered = sum(n for status, n in stats.status["cache_hit"].items() if status.isdigit())
    return {"burst": size, "answered": answered, "without_answer": size - answered, **summary}


async def run(args, keys: list[str]) -> dict:
    users = [User(i, keys[i % len(keys)]) for i in range(args.users)]
    limits = httpx.Limits(max_connections=max(args.users, args.burst or 0), max_keepalive_connections=args.users)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=args.timeout, limits=limits) as client:
        await prime(client, users, args.prime_timeout)
        if args.burst:
            return await burst(client, users, args.burst)
        stats = Stats()
        started = time.perf_counter()
        deadline = started + args.duration
        await asyncio.gather(*(user_loop(client, user, args, deadline, stats) for user in users))
        return stats.summary(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", action="append", default=[], help="repeat for several keys")
    parser.add_argument("--create-users", type=int, default=0, help="create this many users with one key each")
    parser.add_argument("--project", type=Path, default=ROOT, help="where manage.py is, for --create-users")
    parser.add_argument("--plan", default="pro", help="plan of created users")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--duration", type=float, default=150)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between a user's requests")
    parser.add_argument("--hits", type=float, default=60)
    parser.add_argument("--new", type=float, default=30)
    parser.add_argument("--reads", type=float, default=10)
    parser.add_argument("--burst", type=int, default=0, help="send this many cache hits at once instead")
    parser.add_argument("--timeout", type=float, default=30, help="seconds a request may take before it counts as lost")
    parser.add_argument("--prime-timeout", type=float, default=300)
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    parser.add_argument("--note", default="", help="recorded with the figures (e.g. the machine was shared)")
    args = parser.parse_args()

    keys = args.api_key or create_users(args.create_users or args.users, project=args.project, plan=args.plan)
    result = asyncio.run(run(args, keys))
    result = {
        "mode": "burst" if args.burst else "mix",
        "base_url": args.base_url,
        "users": args.users,
        "keys": len(keys),
        "mix": {"cache_hit": args.hits, "new_text": args.new, "read": args.reads},
        "think_s": args.think,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "note": args.note,
        **result,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
