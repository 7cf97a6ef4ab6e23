"""Health checks: each dependency answered with ok/error and how long it took."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django_redis import get_redis_connection

from controls.breaker import oom_count
from controls.limits import LimitName, limit_value
from core.heartbeat import worker_is_ready, workers_alive
from core.metrics import queue_lengths
from core.recognition import recognizer_queue


def _timed(check: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    try:
        result = {"status": "ok", **check()}
    except Exception as exc:
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _redis() -> dict:
    get_redis_connection("default").ping()
    return {"queues": queue_lengths()}


def _storage() -> dict:
    if isinstance(default_storage, FileSystemStorage):
        # The media folder as the storage would make it (FILE_UPLOAD_DIRECTORY_PERMISSIONS: no other users).
        os.makedirs(default_storage.location, mode=default_storage.directory_permissions_mode or 0o777, exist_ok=True)
        if not os.access(default_storage.location, os.W_OK):
            raise PermissionError(f"{default_storage.location} is not writable")
        return {"backend": "filesystem"}
    default_storage.exists("health-probe")
    return {"backend": default_storage.__class__.__name__}  # the configured class, not the lazy proxy


def health_report() -> tuple[str, dict]:
    """Overall status ("ok", "degraded" or "down") and the checks it rests on."""
    checks = {"database": _timed(_database), "redis": _timed(_redis), "storage": _timed(_storage)}
    if checks["redis"]["status"] == "ok":
        checks["workers"] = _timed(lambda: {"alive": workers_alive()})
        if checks["workers"]["status"] == "ok":
            ready = [worker for worker in checks["workers"]["alive"] if worker_is_ready(worker)]
            checks["workers"]["count"] = len(ready)
            checks["workers"]["warming"] = len(checks["workers"]["alive"]) - len(ready)
    else:
        checks["workers"] = {"status": "unknown", "count": 0, "alive": []}
    serving = serving_status(checks["workers"].get("alive", []))
    recognition = recognition_status(checks["workers"].get("alive", []))
    reasons = []
    if any(checks[name]["status"] != "ok" for name in ("database", "redis", "storage")):
        overall = "down"
    else:
        if not checks["workers"].get("count"):
            warming = checks["workers"].get("warming")
            reasons.append(
                f"no worker is ready ({warming} warming up): jobs queue up and nothing runs them"
                if warming
                else "no worker has a fresh heartbeat: jobs queue up and nothing runs them"
            )
        gpu_queues = {
            queue for engine, queue in settings.SPEECH_ENGINE_QUEUES.items() if engine == settings.CLONING_ENGINE
        }
        served = {
            queue
            for worker in checks["workers"].get("alive", [])
            if worker_is_ready(worker)
            for queue in worker.get("queues", [])
        }
        if settings.CLONING_ENGINE and checks["workers"].get("count") and not gpu_queues <= served:
            reasons.append(f"no worker serves {', '.join(sorted(gpu_queues))}: cloned voices wait")
        for entry in serving:
            if entry["compile_failed"]:
                reasons.append(
                    f"{entry['engine']} on {entry['worker']} decodes eagerly, several times slower: compilation "
                    f"failed ({entry['fallback_reason']})"
                )
        for entry in recognition:
            if entry["ready"] and not entry["model_id"]:
                reasons.append(
                    f"{entry['worker']} validates recordings but its speech recogniser did not load at start: "
                    "consent recordings wait for it to load on first use"
                )
        overall = "degraded" if reasons else "ok"
    body = {
        "status": overall,
        "reasons": reasons,
        "version": settings.VERSION,
        "checks": checks,
        "serving": serving,
        "recognition": recognition,
    }
    return overall, body


def serving_status(workers: list[dict]) -> list[dict]:
    """Per worker and serving engine (from the heartbeats): how it decodes (compiled or eager, and why) and its
    batch scheduler's figures. For /health, the ops panel and /metrics."""
    rows = []
    for worker in workers:
        for engine, info in sorted((worker.get("serving") or {}).items()):
            batching = info.get("batching") or {}
            rows.append(
                {
                    "worker": f"{worker.get('hostname')}:{worker.get('pid')}",
                    "engine": engine,
                    "ready": worker_is_ready(worker),
                    "compile_mode": info.get("compile_mode"),
                    "compile_setting": info.get("compile_setting"),
                    "fallback_reason": info.get("fallback_reason"),
                    "compile_failed": bool(info.get("compile_failed")),
                    "cuda_graphs": info.get("cuda_graphs"),
                    "device": info.get("device"),
                    "warmed": len(info.get("warmed") or []),
                    "warm_up_seconds": info.get("warm_up_seconds"),
                    "warm_up_error": info.get("warm_up_error"),
                    "max_batch": batching.get("max_batch", info.get("max_batch")),
                    "batches": batching.get("batches"),
                    "requests": batching.get("requests"),
                    "pending": batching.get("pending"),
                    "batch_size_mean": batching.get("batch_size_mean"),
                    "occupancy": batching.get("occupancy"),
                    "queue_wait_p50_s": batching.get("queue_wait_p50_s"),
                    "queue_wait_p95_s": batching.get("queue_wait_p95_s"),
                    "utilisation": batching.get("utilisation"),
                }
            )
    return rows


def recognition_status(workers: list[dict]) -> list[dict]:
    """Per worker that validates recordings (it consumes the voices queue): the speech recogniser it has loaded
    (model id, revision, load seconds; None while it has none). For /health and the ops panel."""
    queue = recognizer_queue()
    rows = []
    for worker in workers:
        if queue not in (worker.get("queues") or []):
            continue
        asr = worker.get("asr") or {}
        rows.append(
            {
                "worker": f"{worker.get('hostname')}:{worker.get('pid')}",
                "ready": worker_is_ready(worker),
                "model_id": asr.get("model_id"),
                "revision": asr.get("revision"),
                "load_seconds": asr.get("load_seconds"),
            }
        )
    return rows


def live_status() -> dict:
    """What the ops panel shows live (not from rollups): queues, workers with their engines, VRAM per GPU worker,
    the OOM breaker's count."""

    queues = queue_lengths()
    workers = workers_alive()
    gpu_workers = [
        {"worker": f"{w.get('hostname')}:{w.get('pid')}", "engine": engine, **vram}
        for w in workers
        for engine, vram in (w.get("vram") or {}).items()
    ]
    return {
        "queues": queues,
        "queue_alert": any(length > settings.OPS_QUEUE_ALERT for length in queues.values()),
        "workers": workers,
        "gpu_workers": gpu_workers,
        "serving": serving_status(workers),
        "oom_breaker_count": oom_count(),
        "oom_breaker_threshold": limit_value(LimitName.OOM_BREAKER_THRESHOLD),
    }
