"""The sweeper (beat, every minute): re-sends jobs whose task message was lost, and retries or fails jobs whose
worker died."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from core.heartbeat import worker_is_alive
from core.tasks import task_send

from .errors import (
    JobErrorCode,
)
from .models import JobStatus, SynthesisJob
from .services import synthesis_job_enqueue
from .transitions import stale_running_cutoff, synthesis_job_fail

logger = logging.getLogger(__name__)

INTELLIGIBILITY_TASK = "synthesis.score_intelligibility"  # (synthesis.intelligibility, which loads speech/)


def synthesis_jobs_sweep() -> dict[str, int]:
    """Find jobs whose task was lost (broker restarted, worker killed) and send them again, or fail them."""
    now = timezone.now()
    requeue_before = now - timedelta(seconds=settings.TTS_REQUEUE_AFTER)
    lost_queued = list(
        SynthesisJob.objects.filter(status=JobStatus.QUEUED)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=requeue_before))
        .values_list("pk", "engine")[:500]
    )
    resent = 0
    for job_id, engine in lost_queued:
        # Mark first, then send: a crash in between leaves a job the next sweep finds again.
        if SynthesisJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(enqueued_at=now):
            resent += synthesis_job_enqueue(job_id=job_id, engine=engine)

    # Abandoned: running past the hard time limit, or held by a worker process whose heartbeat has stopped (it was
    # killed: its redelivered message found the job still marked running and left it).
    running = SynthesisJob.objects.filter(status=JobStatus.RUNNING)
    dead = [
        job_id
        for job_id, worker in running.filter(started_at__gte=stale_running_cutoff()).values_list("pk", "worker")
        if worker and not worker_is_alive(worker)
    ]
    abandoned = running.filter(Q(started_at__lt=stale_running_cutoff()) | Q(pk__in=dead))
    failed = 0
    for job_id in abandoned.filter(attempts__gte=settings.TTS_JOB_MAX_ATTEMPTS).values_list("pk", flat=True):
        failed += synthesis_job_fail(
            job_id=job_id,
            code=JobErrorCode.WORKER_LOST,
            message="The worker running this job stopped; it was not retried.",
        )
    retry = list(abandoned.filter(attempts__lt=settings.TTS_JOB_MAX_ATTEMPTS).values_list("pk", "engine"))
    for job_id, engine in retry:
        if SynthesisJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            status=JobStatus.QUEUED, started_at=None, enqueued_at=now
        ):
            resent += synthesis_job_enqueue(job_id=job_id, engine=engine)
    return {"resent": resent, "failed": failed}


def synthesis_intelligibility_sweep(*, now=None) -> int:
    """Send again the scoring of cloned jobs that succeeded 15 min to a day ago and still have no score (the message
    was lost): at most once an hour per job (a marker in the cache), so a backlog on the queue is not multiplied.
    Returns how many were sent."""
    now = now or timezone.now()
    unscored = SynthesisJob.objects.filter(
        voice_kind="cloned",
        finished_at__gte=now - timedelta(days=1),
        finished_at__lt=now - timedelta(minutes=15),
        status=JobStatus.SUCCEEDED,
        cached=False,
        intelligibility_scored_at__isnull=True,
    ).exclude(audio="")
    sent = 0
    for job_id in unscored.values_list("pk", flat=True)[:100]:
        if cache.add(f"synthesis:intelligibility-resent:{job_id}", 1, timeout=3600):
            sent += task_send(
                INTELLIGIBILITY_TASK,
                args=[str(job_id)],
                queue="default",
                failure=f"could not resend the intelligibility score of job {job_id}",
                logger=logger,
            )
    return sent
