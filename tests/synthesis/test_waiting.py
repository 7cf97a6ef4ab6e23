"""Waiting for a job is event-driven: the waiter is a coroutine that wakes on the job's `job.updated` event (real
Redis channel layer), many of them wait on one thread, and a lost event is made up for by one more read."""

import asyncio
import inspect
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from synthesis.models import JobStatus, SynthesisJob
from synthesis.transitions import synthesis_job_fail
from synthesis.waiting import synthesis_job_wait, synthesis_job_wait_async
from tests.factories import QueuedJobFactory

N = 30


def _fail_all(job_ids) -> None:
    """Finish the jobs as a worker would (their events go out on commit)."""
    for job_id in job_ids:
        assert synthesis_job_fail(job_id=job_id, code="engine_error", message="Finished by the test.")


def test_the_waiter_is_a_coroutine():
    assert inspect.iscoroutinefunction(synthesis_job_wait_async)


@pytest.mark.django_db(transaction=True)
def test_30_concurrent_waiters_wake_on_their_events_on_one_thread(user, settings):
    settings.TTS_WAIT_RECHECK = 60.0  # (no fallback read within this test: only the events can wake them)
    jobs = [QueuedJobFactory(user=user) for _ in range(N)]

    async def scenario():
        before = threading.active_count()
        waiters = [asyncio.create_task(synthesis_job_wait_async(job=job, timeout=30)) for job in jobs]
        await asyncio.sleep(1.0)  # all subscribed and waiting
        during = threading.active_count()
        assert not any(waiter.done() for waiter in waiters)
        started = time.monotonic()
        await sync_to_async(_fail_all, thread_sensitive=False)([job.id for job in jobs])
        done = await asyncio.gather(*waiters)
        return before, during, time.monotonic() - started, done

    before, during, woke_in, done = asyncio.run(scenario())

    assert [job.status for job in done] == [JobStatus.FAILED] * N
    assert woke_in < 10  # on the events, not on a recheck (60 s) or the timeout (30 s)
    assert during - before <= 3, (before, during)  # not one thread per waiter


@pytest.mark.django_db(transaction=True)
def test_a_missed_event_is_made_up_for_by_one_read(user, settings):
    settings.TTS_WAIT_RECHECK = 0.5
    job = QueuedJobFactory(user=user)

    async def scenario():
        waiter = asyncio.create_task(synthesis_job_wait_async(job=job, timeout=30))
        await asyncio.sleep(0.2)
        # the job ends, but its event is lost (written without one)
        await sync_to_async(SynthesisJob.objects.filter(pk=job.pk).update)(
            status=JobStatus.FAILED, error_code="engine_error", finished_at=timezone.now()
        )
        started = time.monotonic()
        return await waiter, time.monotonic() - started

    finished, took = asyncio.run(scenario())

    assert finished.status == JobStatus.FAILED
    assert took < 5


def test_the_sync_wait_reads_twice_and_returns_on_the_timeout(user, settings):
    settings.TTS_WAIT_RECHECK = 5.0
    job = QueuedJobFactory(user=user)

    with CaptureQueriesContext(connection) as queries:
        started = time.monotonic()
        waited = synthesis_job_wait(job=job, timeout=1.0)
        took = time.monotonic() - started

    assert waited.status == JobStatus.QUEUED
    assert 1.0 <= took < 3
    assert len(queries) == 2  # one read before waiting, one at the end: no polling
