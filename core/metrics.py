"""Product metrics shared by every process through Redis, exported by the web tier at /metrics.

Workers run on other machines than the web processes that Prometheus scrapes, so figures such as job latency are
recorded in Redis hashes (atomic HINCRBY) and read back by a collector at scrape time. Process-local figures (HTTP
request latency) come from django-prometheus as usual.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django_redis import get_redis_connection
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from .broker import broker_client, queue_length

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.5, 5.0, 6.0, 10.0, 20.0, 30.0, 60.0, 120.0)
WER_BUCKETS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # "counter" or "histogram"
    documentation: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "odiadev_job_latency_seconds",
            "histogram",
            "Time from submit to a final status, for jobs that ran on an engine.",
            ("engine", "voice_kind", "status"),
            LATENCY_BUCKETS,
        ),
        MetricSpec(
            "odiadev_job_engine_seconds",
            "histogram",
            "Engine time per job.",
            ("engine",),
            LATENCY_BUCKETS,
        ),
        MetricSpec("odiadev_cache_hits", "counter", "Synthesis requests answered from the cache."),
        MetricSpec("odiadev_cache_misses", "counter", "Synthesis requests that needed engine work."),
        MetricSpec("odiadev_engine_runs", "counter", "Jobs synthesized by an engine.", ("engine",)),
        MetricSpec("odiadev_jobs_finished", "counter", "Jobs that reached a final status.", ("status",)),
        MetricSpec("odiadev_gpu_oom", "counter", "CUDA out-of-memory errors in synthesis jobs."),
        MetricSpec(
            "odiadev_clone_results",
            "counter",
            "Cloned syntheses by outcome, once scored (success: similar enough to the voice and intelligible).",
            ("outcome",),
        ),
        MetricSpec(
            "odiadev_clone_checks",
            "counter",
            "The two parts of a clone's success (similarity, intelligibility), by outcome (pass or fail).",
            ("check", "outcome"),
        ),
        MetricSpec(
            "odiadev_intelligibility_wer",
            "histogram",
            "Word error rate of scored outputs against their text (speech recogniser), by voice kind.",
            ("voice_kind",),
            WER_BUCKETS,
        ),
    )
}


def _key(name: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:metrics:{name}"


def _label_field(spec: MetricSpec, labels: dict[str, str] | None) -> str:
    labels = labels or {}
    if set(labels) != set(spec.labels):
        raise ValueError(f"{spec.name} takes labels {spec.labels}, got {tuple(labels)}")
    return json.dumps([str(labels[name]) for name in spec.labels])


def _redis():
    return get_redis_connection("default")


def counter_inc(name: str, labels: dict[str, str] | None = None, amount: float = 1.0) -> None:
    spec = METRICS[name]
    try:
        _redis().hincrbyfloat(_key(name), _label_field(spec, labels), amount)
    except Exception:  # a metric must never fail the work it measures
        logger.warning("could not record metric %s", name, exc_info=True)


def counters_inc(*counters: tuple[str, dict[str, str] | None]) -> None:
    """Add one to each (name, labels) counter, in one round trip to Redis."""
    try:
        pipe = _redis().pipeline(transaction=False)
        for name, labels in counters:
            pipe.hincrbyfloat(_key(name), _label_field(METRICS[name], labels), 1.0)
        pipe.execute()
    except Exception:  # a metric must never fail the work it measures
        logger.warning("could not record metrics %s", [name for name, _ in counters], exc_info=True)


def histogram_observe(name: str, value: float, labels: dict[str, str] | None = None) -> None:
    spec = METRICS[name]
    field = _label_field(spec, labels)
    # Buckets are stored non-cumulative (one increment per observation) and summed at scrape time.
    bucket = bisect.bisect_left(spec.buckets, value)
    bound = "+Inf" if bucket == len(spec.buckets) else repr(spec.buckets[bucket])
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.hincrby(_key(name), f"{field}|{bound}", 1)
        pipe.hincrbyfloat(_key(name), f"{field}|sum", value)
        pipe.execute()
    except Exception:
        logger.warning("could not record metric %s", name, exc_info=True)


def counter_value(name: str, labels: dict[str, str] | None = None) -> float:
    raw = _redis().hget(_key(name), _label_field(METRICS[name], labels))
    return float(raw) if raw is not None else 0.0


def _collect_counter(spec: MetricSpec, raw: dict[bytes, bytes]) -> CounterMetricFamily:
    family = CounterMetricFamily(spec.name.removesuffix("_total"), spec.documentation, labels=spec.labels)
    if not spec.labels and not raw:
        family.add_metric([], 0.0)
    for field, value in raw.items():
        family.add_metric(json.loads(field), float(value))
    return family


def _collect_histogram(spec: MetricSpec, raw: dict[bytes, bytes]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(spec.name, spec.documentation, labels=spec.labels)
    series: dict[str, dict[str, float]] = {}
    for field, value in raw.items():
        labels_json, _, bound = field.decode().rpartition("|")
        series.setdefault(labels_json, {})[bound] = float(value)
    for labels_json, values in series.items():
        cumulative, buckets = 0.0, []
        for bound in [*spec.buckets, math.inf]:
            name = "+Inf" if bound == math.inf else repr(bound)
            cumulative += values.get(name, 0.0)
            buckets.append((name, cumulative))
        family.add_metric(json.loads(labels_json), buckets, sum_value=values.get("sum", 0.0))
    return family


def queue_lengths() -> dict[str, int]:
    """Messages waiting in each Celery queue on the broker (all priority lists of a queue added up).

    On the engine queues this counts jobs: each queued job has one message, because the sweeper sends a job again
    only when no message of it is waiting or reserved (synthesis.sweeper). The exceptions are short and bounded: a
    message a worker was taking (microseconds) as the sweeper looked, and a message reserved by a worker that was
    killed outright, which the visibility timeout puts back on the queue an hour later although the sweeper has
    re-sent its job meanwhile (at most one per job such a worker held, and its job is usually done by then)."""
    client = broker_client()
    return {
        queue: queue_length(queue, client) for queue in sorted({*settings.SPEECH_ENGINE_QUEUES.values(), "default"})
    }


def register_collector(collector) -> None:
    """Register a collector with the default registry once per process (AppConfig.ready may run twice)."""
    from prometheus_client import REGISTRY

    if not any(type(existing) is type(collector) for existing in list(REGISTRY._collector_to_names)):
        REGISTRY.register(collector)


class RedisMetricsCollector:
    """Prometheus collector reading the shared figures from Redis at scrape time."""

    def describe(self):
        # Defined so that registering the collector does not scrape Redis (and the database) at import time.
        return []

    def collect(self):
        try:
            client = _redis()
            pipe = client.pipeline(transaction=False)
            for name in METRICS:
                pipe.hgetall(_key(name))
            results = pipe.execute()
        except Exception:
            logger.warning("metrics unavailable: Redis unreachable", exc_info=True)
            return
        for spec, raw in zip(METRICS.values(), results, strict=True):
            if spec.kind == "counter":
                yield _collect_counter(spec, raw)
            else:
                yield _collect_histogram(spec, raw)
