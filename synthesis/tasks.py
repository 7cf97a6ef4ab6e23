"""Celery tasks for synthesis. Thin: they take ids and call the runner or a service.

This module is imported by worker processes (autodiscovery at worker start), never by the web tier, which sends
tasks by name.
"""

from __future__ import annotations

import logging

from botocore.exceptions import ConnectionError as StorageConnectionError
from botocore.exceptions import HTTPClientError as StorageHTTPClientError
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError

from core.heartbeat import worker_id

from .errors import JobErrorCode
from .live import live_jobs_sweep
from .sweeper import synthesis_intelligibility_sweep, synthesis_jobs_sweep
from .transitions import synthesis_job_fail, synthesis_job_requeue

logger = logging.getLogger(__name__)

# Failures of a dependency, not of the job: the database, Redis, or the S3 bucket (botocore's connection and read
# errors are not the built-in ConnectionError) out of reach for a moment. The job goes back to the queue and retries.
_TRANSIENT = (OperationalError, ConnectionError, TimeoutError, StorageConnectionError, StorageHTTPClientError)


@shared_task(
    name="synthesis.run_job",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.TTS_JOB_MAX_ATTEMPTS - 1,  # attempts = first try + retries
    soft_time_limit=settings.TTS_JOB_TIME_LIMIT,
    time_limit=settings.TTS_JOB_TIME_LIMIT + 30,
)
def synthesis_job_run_task(self, job_id: str) -> str:
    from .models import SynthesisJob
    from .runner import JobRetry, synthesis_job_execute

    try:
        return synthesis_job_execute(job_id=job_id)
    except SoftTimeLimitExceeded:
        synthesis_job_fail(
            job_id=job_id,
            code=JobErrorCode.TIMEOUT,
            message="Synthesis took longer than the time limit.",
            owner=worker_id(),
        )
        return "timeout"
    except (JobRetry, *_TRANSIENT) as exc:
        job = SynthesisJob.objects.filter(pk=job_id).first()
        if job is None:
            return "gone"
        if self.request.retries >= self.max_retries:
            synthesis_job_fail(
                job_id=job_id,
                code=JobErrorCode.ENGINE_UNAVAILABLE,
                message=f"Gave up after retries: {exc}",
                owner=worker_id(),
            )
            return "failed"
        synthesis_job_requeue(job=job)
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc
    except Exception:
        logger.exception("job %s failed", job_id)
        synthesis_job_fail(
            job_id=job_id,
            code=JobErrorCode.INTERNAL_ERROR,
            message="Synthesis failed unexpectedly.",
            owner=worker_id(),
        )
        raise


@shared_task(
    name="synthesis.live_assemble", bind=True, acks_late=True, max_retries=30, soft_time_limit=120, time_limit=150
)
def synthesis_live_job_assemble_task(self, job_id: str) -> str:
    """Join a closed live job's pieces into its file (synthesis.live); idempotent. While a piece is not final it
    tries again every few seconds (then the sweeper sends it again, every minute)."""
    from .live_runner import live_job_assemble

    outcome = live_job_assemble(job_id=job_id)
    if outcome == "waiting" and self.request.retries < self.max_retries:
        raise self.retry(countdown=2)
    return outcome


@shared_task(name="synthesis.sweep_stale_jobs", acks_late=True)
def synthesis_jobs_sweep_task() -> dict[str, int]:
    return {**synthesis_jobs_sweep(), "scores_resent": synthesis_intelligibility_sweep(), **live_jobs_sweep()}


@shared_task(name="synthesis.score_intelligibility", acks_late=True, soft_time_limit=300, time_limit=330)
def synthesis_job_intelligibility_task(job_id: str) -> str:
    """Score a succeeded job's output (synthesis.intelligibility); idempotent, never changes the job's status."""
    from .intelligibility import synthesis_job_intelligibility_score

    return synthesis_job_intelligibility_score(job_id=job_id)


@shared_task(name="synthesis.purge_idempotency_keys", acks_late=True)
def synthesis_idempotency_keys_purge_task() -> int:
    """Forget Idempotency-Keys past their 24 hours (a key's next use forgets it too)."""
    from .idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
