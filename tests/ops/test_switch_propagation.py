"""A switch flipped by an operator reaches the running web and worker processes within 2 s."""

from __future__ import annotations

import time

import httpx
import pytest

from accounts.services import api_key_create
from billing.services import account_refresh
from ops.actions import switch_flip
from synthesis.models import FINAL_STATUSES, JobStatus, SynthesisJob
from synthesis.services import synthesis_job_enqueue
from tests.e2e.helpers import bearer, submit
from tests.factories import QueuedJobFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _final(job_id, timeout=60.0) -> SynthesisJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = SynthesisJob.objects.get(pk=job_id)
        if job.status in FINAL_STATUSES:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not final after {timeout}s")


def test_engine_switch_reaches_the_running_worker_and_web_process_within_2_seconds(stack):
    operator, customer = UserFactory(is_staff=True), UserFactory()
    account_refresh(user=customer)
    secret = api_key_create(user=customer, name="switch").secret
    # The worker has read the switch (on) and cached it before the flip.
    assert submit(stack, secret, text="Before the flip.", wait=True).json()["status"] == "succeeded"

    switch_flip(name="engine_piper", enabled=False, reason="bad model rollout", user=operator)
    flipped_wall, flipped_at = time.time(), time.monotonic()
    refused_at = None
    while time.monotonic() - flipped_at < 2.0:
        response = httpx.post(f"{stack.base_url}/v1/tts", json={"text": "During."}, headers=bearer(secret))
        if response.status_code == 503:
            refused_at = time.monotonic()
            break
        time.sleep(0.1)
    job = QueuedJobFactory(user=customer, text="Queued before anyone knew.", characters=26)
    synthesis_job_enqueue(job_id=job.id, engine=job.engine)

    assert refused_at is not None, "the web process refused new piper jobs within 2 s"
    assert response.json()["error"]["code"] == "engine_disabled"
    failed = _final(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "engine_disabled")
    assert failed.finished_at.timestamp() - flipped_wall < 3.0, "the idle worker refused it at once, not later"

    switch_flip(name="engine_piper", enabled=True, reason="fixed", user=operator)
    time.sleep(0.1)
    assert submit(stack, secret, text="After the fix.", wait=True).json()["status"] == "succeeded"
