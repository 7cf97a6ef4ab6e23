"""Transient engine errors retry with backoff; the job goes back to queued between attempts and fails with a
stable code once the retries are spent."""

import pytest

from synthesis.models import JobStatus, SynthesisJob
from synthesis.tasks import synthesis_job_run_task
from tests.factories import QueuedJobFactory
from tests.support import engines


@pytest.fixture
def flaky(settings):
    settings.SPEECH_ENGINES = {**settings.SPEECH_ENGINES, "flaky": "tests.support.engines.FlakyEngine"}
    assert synthesis_job_run_task.max_retries == 2  # TTS_JOB_MAX_ATTEMPTS=3: three attempts in all
    yield engines.failures_left
    engines.failures_left["count"] = 0


def test_transient_error_is_retried_until_it_succeeds(flaky, user):
    flaky["count"] = 2
    job = QueuedJobFactory(user=user, engine="flaky", text="Third time lucky.")

    synthesis_job_run_task.apply(args=[str(job.id)])

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 3
    assert job.error_code == ""


def test_retries_spent_fail_the_job_with_a_code(flaky, user):
    flaky["count"] = -1
    job = QueuedJobFactory(user=user, engine="flaky", text="Never works.")

    synthesis_job_run_task.apply(args=[str(job.id)])

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "engine_unavailable"
    assert job.attempts == 3
    assert not job.audio


def test_a_bucket_out_of_reach_is_retried_not_failed(flaky, user, settings, tmp_path):
    """The multi-host test's link cut: the worker synthesized, then could not reach the bucket. That is the network,
    not the job: it goes back to the queue and succeeds on the next attempt."""
    from tests.support.storages import unreachable_writes

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.support.storages.UnreachableOnceStorage", "OPTIONS": {"location": tmp_path}},
    }
    unreachable_writes["count"] = 1
    job = QueuedJobFactory(user=user, engine="flaky", text="Stored on the second try.")

    synthesis_job_run_task.apply(args=[str(job.id)])

    job.refresh_from_db()
    assert unreachable_writes["count"] == 0
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert job.audio


def test_a_late_failure_from_a_worker_whose_job_was_taken_over_changes_nothing(user):
    """Worker A's job was given back to the queue (A looked dead) and worker B runs it now: A's late failure, by
    attempt or by worker, must not fail B's run (nor give back its characters)."""
    from synthesis.transitions import synthesis_job_claim, synthesis_job_fail

    job = QueuedJobFactory(user=user, text="Taken over.")
    first = synthesis_job_claim(job_id=job.id)
    SynthesisJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, started_at=None)  # the sweeper's return
    second = synthesis_job_claim(job_id=job.id)
    SynthesisJob.objects.filter(pk=job.pk).update(worker="worker-b:2")  # B's claim, from another host

    by_attempt = synthesis_job_fail(job_id=job.id, code="engine_error", message="late", attempt=first.attempts)
    by_owner = synthesis_job_fail(job_id=job.id, code="internal_error", message="late", owner="worker-a:1")

    job.refresh_from_db()
    assert (by_attempt, by_owner) == (False, False)
    assert job.status == JobStatus.RUNNING
    assert job.attempts == second.attempts == 2
    assert synthesis_job_fail(job_id=job.id, code="engine_error", message="B's own", attempt=2)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
