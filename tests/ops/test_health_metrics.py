"""/health reports each dependency and the overall state; /metrics exports our figures in Prometheus text."""

import json

import pytest
from django.core.cache import caches
from django_redis import get_redis_connection

from odiadev.ops.heartbeat import workers_alive
from odiadev.synthesis.services import synthesis_job_create


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
