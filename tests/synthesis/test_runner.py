"""The worker side: a job becomes stored audio once, however often its task runs."""

import io
import os
import threading
from datetime import timedelta

import pytest
import soundfile as sf
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from billing.services import plan_assign
from core.metrics import counter_value
from synthesis.models import JobStatus, SynthesisJob
from synthesis.runner import synthesis_job_execute
from synthesis.services import synthesis_job_create
from synthesis.sweeper import synthesis_jobs_sweep
from synthesis.tasks import synthesis_job_run_task
from tests.factories import QueuedJobFactory


def _media_files():
    return sorted(
        os.path.relpath(os.path.join(root, name), settings.MEDIA_ROOT)
        for root, _dirs, names in os.walk(settings.MEDIA_ROOT)
        for name in names
    )


def _succeeded_count():
    return counter_value("odiadev_jobs_finished", {"status": "succeeded"})


@pytest.fixture
def job(user):
    return synthesis_job_create(user=user, text="Idempotency matters. Twice is once.", voice_id="joe")


def test_task_run_twice_makes_one_file_and_one_success(job):
    first = synthesis_job_run_task.apply(args=[str(job.id)]).get()
    job.refresh_from_db()
    finished_at = job.finished_at

    second = synthesis_job_run_task.apply(args=[str(job.id)]).get()

    job.refresh_from_db()
    assert (first, second) == ("succeeded", "skipped")
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 1
    assert job.finished_at == finished_at
    assert _media_files() == [f"audio/{job.id}.wav"]
    assert _succeeded_count() == 1
    audio, rate = sf.read(io.BytesIO(default_storage.open(job.audio.name).read()))
    assert rate == 22050
    assert job.duration_seconds == pytest.approx(len(audio) / rate, abs=0.01)
    assert job.engine_seconds > 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_job_do_the_work_once(user):
    # Written directly, not through the service: the suite's live worker must not get a message for it.
    job = QueuedJobFactory(user=user, text="Two workers, one job.")
    results = []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(synthesis_job_execute(job_id=job.id))
        finally:
            connection.close()  # as Celery's Django fix-up does after each task: the pool gets it back

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["skipped", "succeeded"]
    assert _media_files() == [f"audio/{job.id}.wav"]
    assert SynthesisJob.objects.get(pk=job.pk).attempts == 1


def test_a_cancelled_job_is_not_run(job):
    SynthesisJob.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED)

    assert synthesis_job_run_task.apply(args=[str(job.id)]).get() == "skipped"
    assert _media_files() == []


def test_output_name_derives_from_job_id_and_replaces_an_earlier_attempt(job):
    # An attempt that died after writing its file: the retry overwrites it rather than adding a second file.
    default_storage.save(f"audio/{job.id}.wav", io.BytesIO(b"partial"))
    SynthesisJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now() - timedelta(hours=1), attempts=1
    )

    assert synthesis_job_execute(job_id=job.id) == "succeeded"

    job.refresh_from_db()
    assert job.attempts == 2
    assert _media_files() == [f"audio/{job.id}.wav"]
    assert default_storage.size(job.audio.name) > 1000


def test_a_running_job_within_its_time_limit_is_not_taken_twice(job):
    SynthesisJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=timezone.now(), attempts=1)

    assert synthesis_job_execute(job_id=job.id) == "skipped"


def test_empty_audio_fails_the_job_with_a_code(user):
    job = synthesis_job_create(user=user, text="...", voice_id="joe")

    synthesis_job_run_task.apply(args=[str(job.id)])

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "engine_error"
    assert _media_files() == []


def test_sweeper_resends_lost_jobs_and_fails_abandoned_ones(user, settings):
    settings.TTS_JOB_MAX_ATTEMPTS = 2
    plan_assign(user=user, slug="business")  # five jobs in flight at once
    old = timezone.now() - timedelta(hours=2)
    lost = synthesis_job_create(user=user, text="A lost message.", voice_id="joe")
    never_sent = synthesis_job_create(user=user, text="Never sent.", voice_id="joe")
    fresh = synthesis_job_create(user=user, text="Just queued.", voice_id="joe")
    retry = synthesis_job_create(user=user, text="Worker died once.", voice_id="joe")
    dead = synthesis_job_create(user=user, text="Worker died twice.", voice_id="joe")
    # (no message is sent here: the test's transaction never commits; a job is marked sent once the broker took it)
    SynthesisJob.objects.filter(pk=lost.pk).update(enqueued_at=old)
    SynthesisJob.objects.filter(pk=never_sent.pk).update(enqueued_at=None, queued_at=old)
    SynthesisJob.objects.filter(pk=fresh.pk).update(enqueued_at=timezone.now())
    SynthesisJob.objects.filter(pk=retry.pk).update(status=JobStatus.RUNNING, started_at=old, attempts=1)
    SynthesisJob.objects.filter(pk=dead.pk).update(status=JobStatus.RUNNING, started_at=old, attempts=2)

    result = synthesis_jobs_sweep()

    assert result == {"resent": 3, "failed": 1}
    statuses = dict(SynthesisJob.objects.values_list("pk", "status"))
    assert statuses[lost.pk] == statuses[never_sent.pk] == statuses[retry.pk] == JobStatus.QUEUED
    assert statuses[fresh.pk] == JobStatus.QUEUED
    assert statuses[dead.pk] == JobStatus.FAILED
    assert SynthesisJob.objects.get(pk=dead.pk).error_code == "worker_lost"
    assert SynthesisJob.objects.get(pk=fresh.pk).enqueued_at > old
    assert synthesis_jobs_sweep() == {"resent": 0, "failed": 0}
