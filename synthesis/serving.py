"""The engines of this worker process, and for engines that batch (SPEECH_BATCHING) the one batch scheduler that
gathers what the process's task threads submit into batched generations. Worker side only: the runner and the
worker's start-up import it, never the web tier.

A GPU worker runs its tasks in threads (`--pool threads --concurrency N`): each task thread still claims, bills
and stores its own job, but hands its segments to the scheduler, which decodes them in batches on the engine's one
GPU thread and gives each thread back its own pieces as they decode.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.utils.module_loading import import_string

from speech.batching import BatchScheduler
from speech.engines.base import Engine, GpuEngine

logger = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}
_schedulers: dict[str, BatchScheduler] = {}
_warm_up_errors: dict[str, str] = {}
_lock = threading.Lock()


def engine_get(name: str) -> Engine:
    """The process-wide instance of engine `name`, loaded on first use."""
    with _lock:
        if name not in _engines:
            engine = import_string(settings.SPEECH_ENGINES[name])(**settings.SPEECH_ENGINE_OPTIONS.get(name, {}))
            engine.load()
            _engines[name] = engine
        return _engines[name]


def scheduler_get(name: str) -> BatchScheduler | None:
    """The batch scheduler of engine `name` in this process (started on first use); None for engines that do not
    batch (not in SPEECH_BATCHING, or without `synthesize_batch`)."""
    options = settings.SPEECH_BATCHING.get(name)
    if options is None:
        return None
    engine = engine_get(name)
    if not callable(getattr(engine, "synthesize_batch", None)):
        return None
    with _lock:
        scheduler = _schedulers.get(name)
        if scheduler is None:
            scheduler = _schedulers[name] = BatchScheduler(engine, **options)
            logger.info(
                "%s batch scheduler started: batches of up to %d, window %.1f ms, account share %.2f",
                name,
                scheduler.max_batch,
                scheduler.window_s * 1000,
                scheduler.account_share,
            )
        return scheduler


def engines_warm() -> list[dict]:
    """Load the engines this worker serves, warm up those that can (Dia compiles its buckets within its budget) and
    start the batch schedulers, so the first job pays for none of it. Called at process start, before the worker
    reports itself ready."""
    loaded = []
    for name in settings.SPEECH_WARM_ENGINES:
        engine = engine_get(name)
        warm_up = getattr(engine, "warm_up", None)
        if callable(warm_up):
            try:
                warm_up()
            except Exception as exc:
                # A GPU too small for the buckets, say: logged and reported; jobs still try (and fail alone).
                logger.exception("%s warm-up failed", name)
                _warm_up_errors[name] = f"{type(exc).__name__}: {exc}"[:300]
        scheduler_get(name)
        loaded.append({"name": name, "model_id": engine.model_id, "model_revision": engine.model_revision})
    return loaded


def engines_vram() -> dict:
    """VRAM held by the loaded GPU engines against their budget, for the heartbeat (/health, /metrics)."""
    # (no lock: the heartbeat must not wait for an engine that is loading; copying a dict is atomic)
    gpu_engines = {name: engine for name, engine in dict(_engines).items() if isinstance(engine, GpuEngine)}
    return {name: engine.vram() for name, engine in gpu_engines.items()}


def engines_serving() -> dict:
    """How each loaded engine that can say so decodes (compiled or eager, and why), and its scheduler's figures
    (batch size, occupancy, queue wait), for the heartbeat (/health, the ops panel, /metrics)."""
    engines, schedulers = dict(_engines), dict(_schedulers)  # (no lock, as for engines_vram)
    report = {}
    for name, engine in engines.items():
        describe = getattr(engine, "describe", None)
        if not callable(describe) and name not in schedulers:
            continue
        entry = dict(describe()) if callable(describe) else {}
        if name in _warm_up_errors:
            entry["warm_up_error"] = _warm_up_errors[name]
        if name in schedulers:
            stats = schedulers[name].stats()
            # Account keys are user ids: the heartbeat is public (/health), so only their number goes out.
            stats["accounts_waiting"] = len(stats.pop("pending_by_account", {}))
            entry["batching"] = stats
        report[name] = entry
    return report


def engines_shutdown(*, names: list[str] | None = None, timeout: float = 60.0) -> None:
    """Stop the batch schedulers (queued requests fail as retryable, the running batch ends) and then the engines'
    own threads; called when the worker shuts down. The engines are forgotten: a later job loads them afresh."""
    with _lock:
        chosen = [name for name in (_engines if names is None else names) if name in _engines]
        schedulers = [_schedulers.pop(name) for name in chosen if name in _schedulers]
        engines = [_engines.pop(name) for name in chosen]
    for scheduler in schedulers:
        scheduler.shutdown(wait=True, timeout=timeout)
    for engine in engines:
        close = getattr(engine, "close", None)
        if callable(close):
            close()
