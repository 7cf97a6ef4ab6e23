"""Redis out of reach, in this process: every API call answers 503 `service_unavailable` with Retry-After (never
500) and writes nothing; a job that succeeds as Redis dies is recorded and logged as a success, and its cache entry
is written once Redis is back. The outage is real: the cache points at a port where a Redis server was killed (or
none listens yet), and a real server is started there to bring it back. The stack-level version (SIGKILL under
Daphne and a worker) is in test_redis_outage_stack.py."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from billing.models import LedgerEntry
from synthesis.cache import cache_lookup
from synthesis.models import JobStatus, SynthesisJob
from synthesis.transitions import synthesis_job_claim, synthesis_job_succeed
from tests.factories import QueuedJobFactory, SucceededJobFactory
from tests.support.killable_redis import KillableRedis


@pytest.fixture
def redis_server(tmp_path):
    server = KillableRedis(tmp_path)
    yield server
    server.kill()


@pytest.fixture
def cache_on(settings):
    """Point this process's cache (synthesis cache, switches, rate limits, plan limits) at another Redis."""

    def point(url: str) -> None:
        caches = {"default": {**django_settings.CACHES["default"], "LOCATION": url}}
        settings.CACHES = caches  # pytest-django's `settings` resets Django's cache handlers on change

    return point


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_every_api_call_answers_503_while_redis_is_down(api, user, redis_server, cache_on):
    # given a job of the user's, and a Redis that was killed
    job = SucceededJobFactory(user=user)
    redis_server.start()
    cache_on(redis_server.url)
    redis_server.kill()
    jobs_before, ledger_before = SynthesisJob.objects.count(), LedgerEntry.objects.count()

    # when the API is called, then every call says 503 with Retry-After, never 500
    _assert_unavailable(api.post("/v1/tts", {"text": "Hello there.", "voice_id": "joe"}, format="json"))
    _assert_unavailable(api.get(f"/v1/tts/{job.id}"))
    _assert_unavailable(api.get("/v1/tts"))
    _assert_unavailable(api.get("/v1/voices"))
    # and the refused submit wrote nothing: no job, no charge
    assert SynthesisJob.objects.count() == jobs_before
    assert LedgerEntry.objects.count() == ledger_before

    # when Redis is back, then the same calls are served again
    redis_server.start()
    assert api.get("/v1/voices").status_code == 200
    assert api.get(f"/v1/tts/{job.id}").status_code == 200


@pytest.mark.django_db
def test_a_success_as_redis_dies_is_a_success_and_its_cache_entry_follows(user, redis_server, cache_on, caplog):
    # given a running job, and Redis killed just before the worker records its audio
    job = QueuedJobFactory(user=user)
    redis_server.start()
    cache_on(redis_server.url)
    claimed = synthesis_job_claim(job_id=job.id)
    redis_server.kill()

    # when the worker records the success
    with caplog.at_level(logging.WARNING):
        recorded = synthesis_job_succeed(
            job=claimed, audio_name=f"audio/{job.id}.wav", audio_bytes=100, duration=1.0, engine_seconds=0.1
        )

    # then it is a success, said so in the log, with no "failed" anywhere
    assert recorded is True
    assert SynthesisJob.objects.get(pk=job.id).status == JobStatus.SUCCEEDED
    assert f"job {job.id} succeeded" in caplog.text
    assert "failed" not in caplog.text.lower()

    # and once Redis is back, the next success in this process writes the waiting entry too
    redis_server.start()
    assert cache.get("anything") is None  # (the killed connection is replaced)
    other = synthesis_job_claim(job_id=QueuedJobFactory(user=user).id)
    assert synthesis_job_succeed(
        job=other, audio_name=f"audio/{other.id}.wav", audio_bytes=100, duration=1.0, engine_seconds=0.1
    )
    assert cache_lookup(claimed.cache_key) == uuid.UUID(str(job.id))
    assert cache_lookup(other.cache_key) == uuid.UUID(str(other.id))
