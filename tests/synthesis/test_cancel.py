"""Cancelling a job gives its characters back, once; a finished job cannot be cancelled."""

import os
import threading
import time

import pytest

from billing.models import BillingAccount, LedgerEntry
from synthesis.models import JobStatus, SynthesisJob
from synthesis.runner import synthesis_job_execute
from synthesis.services import synthesis_job_create
from synthesis.transitions import synthesis_job_cancel
from tests.factories import QueuedJobFactory
from tests.support.engines import GatedEngine


def test_cancel_a_queued_job_releases_its_characters(api, user):
    job = synthesis_job_create(user=user, text="Never mind.", voice_id="joe")
    assert BillingAccount.objects.get(user=user).balance == 10_000 - 11

    first = api.post(f"/v1/tts/{job.id}/cancel")
    again = api.post(f"/v1/tts/{job.id}/cancel")

    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "cancelled"
    assert BillingAccount.objects.get(user=user).balance == 10_000
    assert sorted(LedgerEntry.objects.filter(job=job).values_list("kind", flat=True)) == ["release", "reserve"]
    # a worker that picks it up afterwards does nothing
    assert synthesis_job_execute(job_id=job.id) == "skipped"


def test_a_finished_job_cannot_be_cancelled(api, user):
    job = synthesis_job_create(user=user, text="Done already.", voice_id="joe")
    synthesis_job_execute(job_id=job.id)

    response = api.post(f"/v1/tts/{job.id}/cancel")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_not_cancellable"
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED


def test_another_users_job_cannot_be_cancelled(other_user, api):
    job = synthesis_job_create(user=other_user, text="Not yours.", voice_id="joe")

    assert api.post(f"/v1/tts/{job.id}/cancel").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_job_discards_its_audio(settings, user):
    settings.SPEECH_ENGINES = {**settings.SPEECH_ENGINES, "gated": "tests.support.engines.GatedEngine"}
    GatedEngine.gate = threading.Event()
    job = QueuedJobFactory(user=user, engine="gated", text="Cancel me mid-way.")
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(synthesis_job_execute(job_id=job.id)))
    worker.start()
    deadline = time.monotonic() + 10
    while SynthesisJob.objects.get(pk=job.pk).status != JobStatus.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.02)

    synthesis_job_cancel(job=job)
    GatedEngine.gate.set()
    worker.join(timeout=30)

    assert outcome == ["discarded"]
    assert SynthesisJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert os.listdir(os.path.join(settings.MEDIA_ROOT, "audio")) == []
