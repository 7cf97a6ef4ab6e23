"""/health reports each dependency and the overall state; /metrics exports our figures in Prometheus text."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.core.cache import caches
from django.utils import timezone
from django_redis import get_redis_connection

from controls.switches import switch_set
from core.heartbeat import workers_alive
from ops.kpis import KPI_SPECS, LATENCY_BOUNDS, bucket_floor
from ops.models import KpiRollup
from synthesis.services import synthesis_job_create
from tests.factories import QueuedJobFactory


@pytest.fixture
def no_workers():
    redis = get_redis_connection("default")
    saved = {key: redis.get(key) for key in redis.scan_iter("odiadev-test:workers:*")}
    for key in saved:
        redis.delete(key)
    yield
    for key, value in saved.items():
        redis.set(key, value, ex=5)


@pytest.fixture
def fake_heartbeat():
    # A heartbeat as a worker writes it; the e2e tests check that a real worker does write one.
    redis = get_redis_connection("default")
    key = "odiadev-test:workers:testhost:1"
    redis.set(key, json.dumps({"hostname": "testhost", "pid": 1, "engines": [{"name": "piper"}]}), ex=30)
    yield
    redis.delete(key)


def test_liveness(client):
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_degraded_without_workers(client, db, no_workers):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert {"database", "redis", "storage", "workers"} <= set(body["checks"])
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["storage"]["status"] == "ok"
    assert body["checks"]["workers"]["count"] == 0


def test_health_is_ok_with_a_worker(client, db, no_workers, fake_heartbeat):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["workers"]["alive"][0]["engines"] == [{"name": "piper"}]


def test_health_is_503_when_redis_is_down(client, db, settings):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    try:
        response = client.get("/health")
    finally:
        caches["default"].close()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["redis"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


def test_metrics_export_cache_queue_and_http_figures(client, user):
    synthesis_job_create(user=user, text="Count me as a miss.", voice_id="joe")

    response = client.get("/metrics")

    assert response.status_code == 200
    text = response.content.decode()
    assert "odiadev_cache_misses_total 1.0" in text
    assert "odiadev_cache_hits_total 0.0" in text
    assert 'odiadev_queue_length{queue="synth"}' in text
    assert 'odiadev_jobs{status="queued"} 1.0' in text
    assert "django_http_requests_latency_seconds_by_view_method" in text
    assert "odiadev_workers_up" in text


def test_workers_alive_reads_heartbeats(fake_heartbeat):
    assert any(worker["hostname"] == "testhost" for worker in workers_alive())


def test_health_is_degraded_when_no_worker_serves_the_gpu_queue(client, db, no_workers, fake_heartbeat, settings):
    settings.CLONING_ENGINE = "dia"  # the deployment offers cloned voices, but the only worker serves CPU queues

    body = client.get("/health").json()

    assert body["status"] == "degraded"
    assert body["reasons"] == ["no worker serves synth_gpu: cloned voices wait"]


def test_metrics_export_switch_states_and_runbook_kpis(client, db):
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    histogram[LATENCY_BOUNDS.index(3.0)] = 10
    KpiRollup.objects.create(
        bucket_start=bucket_floor(timezone.now() - timedelta(minutes=5)),
        jobs_finished=10,
        cache_hits=5,
        latency_histogram=histogram,
    )
    finished_at = timezone.now() - timedelta(minutes=2)
    for latency in (2.5, 2.75, 3.0):  # latencies come from the jobs themselves, not the histogram's edges
        QueuedJobFactory(
            status="succeeded",
            queued_at=finished_at - timedelta(seconds=latency),
            finished_at=finished_at,
            audio="audio/x.wav",
        )
    switch_set(name="maintenance_mode", enabled=True, reason="test")

    text = client.get("/metrics").content.decode()

    assert 'odiadev_switch_enabled{switch="maintenance_mode"} 1.0' in text
    assert 'odiadev_switch_enabled{switch="voice_cloning"} 1.0' in text
    assert 'odiadev_kpi{kpi="latency_p50",window="1h"} 2.75' in text
    assert 'odiadev_kpi{kpi="cache_hit_rate",window="24h"} 0.5' in text


def test_alert_rules_cover_the_runbook_and_use_exported_series(client, db):
    rules = yaml.safe_load((Path(__file__).resolve().parents[2] / "ops/alerts.yml").read_text())
    rules = rules["groups"][0]["rules"]
    exprs = " ".join(rule["expr"] for rule in rules)
    text = client.get("/metrics").content.decode()
    families = set(re.findall(r"^# TYPE (\w+)", text, re.MULTILINE))

    covered = {rule["labels"].get("kpi") for rule in rules}
    assert {spec.key for spec in KPI_SPECS} - {"oom_count"} <= covered
    assert all(rule["expr"] and rule["annotations"]["summary"] for rule in rules)
    for name in set(re.findall(r"\b(odiadev_\w+)", exprs)):
        family = re.sub(r"(_bucket|_total)$", "", name)
        assert family in families or name in families, f"{name} is not exported by /metrics"
    for threshold in ("< 20", "< 0.30", "> 4", "> 6", "< 0.95", "> 0", "odiadev_queue_length > 10"):
        assert threshold in exprs
