"""The sweeper (beat, every minute): sends the queued jobs that have no task message on the broker, and retries or
fails jobs whose worker died.

A job is marked sent (`enqueued_at`) only once the broker has taken its message, so a job committed by a web
process that died before sending is found here within a minute (`TTS_SEND_GRACE`). A job that was sent is sent
again only if its message is really gone: neither waiting in its queue nor reserved by a worker (core.broker reads
both). A long backlog therefore never multiplies: each waiting job keeps exactly one message. Were a job sent twice
anyway (a message a worker was taking just as we looked), it still runs once: the worker claims it with one
conditional UPDATE from queued to running (transitions.synthesis_job_claim).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from core.broker import broker_client, task_args_on_broker
from core.heartbeat import worker_is_alive
from core.tasks import task_send

from .errors import (
    JobErrorCode,
)
from .models import JobStatus, SynthesisJob
from .transitions import (
    RUN_JOB_TASK,
    stale_running_cutoff,
    synthesis_job_enqueue,
    synthesis_job_fail,
    synthesis_job_queue,
)

logger = logging.getLogger(__name__)

INTELLIGIBILITY_TASK = "synthesis.score_intelligibility"  # (synthesis.intelligibility, which loads speech/)
SEND_MAX = 1000  # jobs sent per sweep at most; the next sweep sends the rest
_LOCK = "synthesis:jobs-sweep"


def synthesis_jobs_sweep() -> dict[str, int]:
    """Send the queued jobs whose message is not on the broker (never sent, or lost with a Redis restart or a killed
    worker), and retry or fail the running jobs whose worker died."""
    client = broker_client()
    # One sweep at a time (a slow one may overlap the next): two would both send the same missing message.
    try:
        if not client.set(_LOCK, 1, nx=True, ex=300):
            logger.info("another jobs sweep is running; skipped")
            return {"resent": 0, "failed": 0}
    except Exception:  # the broker is away: nothing can be sent, the next sweep does it all
        logger.warning("jobs sweep skipped: the broker is unreachable", exc_info=True)
        return {"resent": 0, "failed": 0}
    try:
        failed, returned = _abandoned_sweep()
        return {"resent": _unsent_sweep(returned=returned, client=client), "failed": failed}
    finally:
        with contextlib.suppress(Exception):  # (it expires anyway)
            client.delete(_LOCK)


def _abandoned_sweep() -> tuple[int, set]:
    """Fail, or put back in the queue, the running jobs whose worker is gone; returns (failed, ids put back)."""
    # Abandoned: running past the hard time limit, or held by a worker process whose heartbeat has stopped (it was
    # killed: its redelivered message found the job still marked running and left it).
    # (not a live job: it runs no task; synthesis.live sweeps it)
    running = SynthesisJob.objects.filter(status=JobStatus.RUNNING, live=False)
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
    returned = set()
    for job_id in abandoned.filter(attempts__lt=settings.TTS_JOB_MAX_ATTEMPTS).values_list("pk", flat=True):
        # Not marked sent: its message, if any, went with the dead worker (below it is sent unless one waits).
        if SynthesisJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            status=JobStatus.QUEUED, started_at=None, enqueued_at=None, updated_at=timezone.now()
        ):
            returned.add(job_id)
    return failed, returned


def _unsent_sweep(*, returned: set, client) -> int:
    """Send the queued jobs that are due a message and have none on the broker; returns how many were sent."""
    now = timezone.now()
    due = SynthesisJob.objects.filter(status=JobStatus.QUEUED).filter(
        Q(enqueued_at__isnull=True, queued_at__lt=now - timedelta(seconds=settings.TTS_SEND_GRACE))
        | Q(enqueued_at__lt=now - timedelta(seconds=settings.TTS_REQUEUE_AFTER))
        | Q(pk__in=returned)
    )
    candidates = {
        pk: (engine, sent, queued_at)
        for pk, engine, sent, queued_at in due.values_list("pk", "engine", "enqueued_at", "queued_at")
    }
    if not candidates:
        return 0  # (the usual case: the broker is not read at all)
    queues = {synthesis_job_queue(engine) for engine, _, _ in candidates.values()}
    on_broker = task_args_on_broker(RUN_JOB_TASK, queues=queues, client=client)
    reserved_lost_before = now.timestamp() - settings.TTS_RESERVED_LOST_AFTER
    missing = [
        pk
        for pk in candidates
        if str(pk) not in on_broker.waiting
        # A job put back from a dead worker counts no reservation: it is most likely that worker's own.
        and (pk in returned or on_broker.reserved.get(str(pk), 0) < reserved_lost_before)
    ]
    missing = sorted(missing, key=lambda pk: candidates[pk][2])[:SEND_MAX]
    # Still queued and not sent by anyone else since we looked (a worker may have run it meanwhile).
    current = dict(
        SynthesisJob.objects.filter(pk__in=missing, status=JobStatus.QUEUED).values_list("pk", "enqueued_at")
    )
    sent = 0
    for pk in missing:
        engine, seen, _ = candidates[pk]
        if pk in current and current[pk] == seen:
            sent += synthesis_job_enqueue(job_id=pk, engine=engine)
    if sent:
        logger.info("sent %d queued jobs without a message on the broker (%d read there)", sent, on_broker.messages)
    return sent


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
