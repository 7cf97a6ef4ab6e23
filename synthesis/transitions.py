"""A job's state transitions after it is queued: its task message sent, claim, progress, success, failure, cancel,
requeue, and the retention that lets its audio go. Each is one conditional UPDATE (scoped by `attempts` where a
retry may race), so a duplicate delivery changes nothing; billing's capture or release happens in the same
transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.models import StorageKind
from billing.services import usage_capture, usage_release
from billing.storage import storage_record
from core.heartbeat import worker_id
from core.metrics import counter_inc, histogram_observe
from core.tasks import task_send

from .cache import cache_forget_job, cache_store
from .errors import (
    JobNotCancellable,
)
from .events import job_event_send, job_webhook_emit
from .models import FINAL_STATUSES, JobStatus, SynthesisJob
from .timestamps import words_timed

logger = logging.getLogger(__name__)

RUN_JOB_TASK = "synthesis.run_job"


def synthesis_job_queue(engine: str) -> str:
    """The Celery queue of an engine's jobs."""
    return settings.SPEECH_ENGINE_QUEUES.get(engine, "synth")


def synthesis_job_enqueue(*, job_id: uuid.UUID, engine: str) -> bool:
    """Send the job's task message to its engine's queue, and only once the broker has taken it record when
    (`enqueued_at`): a job queued without it has no message, and the sweeper sends it within a minute. Call only
    after the job row is committed; a failure is left to the sweeper."""
    if not task_send(
        RUN_JOB_TASK,
        args=[str(job_id)],
        queue=synthesis_job_queue(engine),
        failure=f"could not enqueue job {job_id}; the sweeper will retry",
        logger=logger,
    ):
        return False
    # (a worker may have claimed the job already: then there is nothing to record)
    SynthesisJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(enqueued_at=timezone.now())
    return True


# ---------------------------------------------------------------------------------------------------------------
# Transitions (called by the worker). Each is one conditional UPDATE, so a duplicate delivery changes nothing.
# ---------------------------------------------------------------------------------------------------------------
def stale_running_cutoff():
    # A running job older than the task's hard time limit has certainly lost its worker.
    return timezone.now() - timedelta(seconds=settings.TTS_JOB_TIME_LIMIT + 60)


def synthesis_job_claim(*, job_id: uuid.UUID) -> SynthesisJob | None:
    """Move a queued (or abandoned running) job to running for this attempt; None if there is nothing to do."""
    now = timezone.now()
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, started_at__lt=stale_running_cutoff())
    # (a live job runs no task: its pieces do, and synthesis.live_runner assembles it)
    claimed = SynthesisJob.objects.filter(claimable, pk=job_id, live=False).update(
        status=JobStatus.RUNNING,
        started_at=now,
        attempts=F("attempts") + 1,
        worker=worker_id(),
        batch_size=None,
        batch_wait_seconds=None,
        updated_at=now,
    )
    if not claimed:
        return None
    job = SynthesisJob.objects.select_related("user").get(pk=job_id)
    job_event_send(job)
    return job


def synthesis_job_succeed(
    *,
    job: SynthesisJob,
    audio_name: str,
    audio_bytes: int,
    duration: float,
    engine_seconds: float,
    clone_similarity: float | None = None,
    spoken_word_times: list | None = None,
) -> bool:
    """Record the audio of the attempt `job` (as claimed), and its bytes in the owner's storage; False if the job was
    meanwhile cancelled or retaken."""
    now = timezone.now()
    with transaction.atomic():
        updated = SynthesisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
            status=JobStatus.SUCCEEDED,
            audio=audio_name,
            audio_bytes=audio_bytes,
            duration_seconds=duration,
            engine_seconds=engine_seconds,
            clone_similarity=clone_similarity,
            spoken_word_times=spoken_word_times,
            words=words_timed(job.word_spans, spoken_word_times) if spoken_word_times is not None else None,
            finished_at=now,
            error_code="",
            error_message="",
            updated_at=now,
        )
        if not updated:
            return False
        job.refresh_from_db()
        usage_capture(job=job)
        storage_record(user=job.user, delta=audio_bytes, kind=StorageKind.STORE, ref=_storage_ref(job.pk))
        job_event_send(job)
        job_webhook_emit(job)
    # Recorded and committed: from here on Redis is optional. Without it the entry waits in this process (see
    # cache_store) and the success is still a success, not "job failed".
    if not cache_store(job.cache_key, job.id):
        logger.warning(
            "job %s succeeded; Redis is unavailable, so its cache entry is written when Redis returns", job.id
        )
    _record_finished(job)
    counter_inc("odiadev_engine_runs", {"engine": job.engine})
    # (a clone's success is counted once its intelligibility is known: synthesis.intelligibility)
    histogram_observe("odiadev_job_engine_seconds", engine_seconds, {"engine": job.engine})
    return True


def synthesis_job_intelligibility_record(
    *, job_id: uuid.UUID, wer: float | None, heard: str, model: str, seconds: float | None
) -> bool:
    """Record a succeeded job's intelligibility score (`wer` None: scoring failed), once: False if it was scored
    (or tried) already. Touches nothing else, so it never races the job's own transitions."""
    now = timezone.now()
    return bool(
        SynthesisJob.objects.filter(pk=job_id, intelligibility_scored_at__isnull=True).update(
            intelligibility_wer=wer,
            intelligibility_transcript=heard,
            intelligibility_model=model,
            intelligibility_seconds=seconds,
            intelligibility_scored_at=now,
        )
    )


def synthesis_job_fail(
    *, job_id: uuid.UUID, code: str, message: str, attempt: int | None = None, owner: str | None = None
) -> bool:
    """Mark a job that is not final as failed with a stable error code.

    A worker says whose failure it is, so that a job taken from it meanwhile (the sweeper gave it back to the queue
    and another worker runs it) is left alone: `attempt`, the attempt it claimed (only that running attempt fails),
    or `owner`, its worker id (a job running under another worker is left alone)."""
    now = timezone.now()
    jobs = SynthesisJob.objects.filter(pk=job_id).exclude(status__in=FINAL_STATUSES)
    if attempt is not None:
        jobs = jobs.filter(status=JobStatus.RUNNING, attempts=attempt)
    if owner is not None:
        jobs = jobs.exclude(Q(status=JobStatus.RUNNING) & ~Q(worker=owner))
    with transaction.atomic():
        updated = jobs.update(
            status=JobStatus.FAILED, error_code=code, error_message=message, finished_at=now, updated_at=now
        )
        if not updated:
            return False
        job = SynthesisJob.objects.select_related("user").get(pk=job_id)
        usage_release(job=job)
        job_event_send(job)
        job_webhook_emit(job)
    _record_finished(job)
    return True


def synthesis_job_cancel(*, job: SynthesisJob) -> SynthesisJob:
    """Cancel a queued or running job and give its characters back. A worker still running it finds the job
    cancelled when it tries to record the audio, and discards its file."""
    now = timezone.now()
    with transaction.atomic():
        updated = (
            SynthesisJob.objects.filter(pk=job.pk)
            .exclude(status__in=FINAL_STATUSES)
            .filter(live=False)  # a live job ends on its socket (`cancel`), which cancels its pieces
            .update(status=JobStatus.CANCELLED, finished_at=now, updated_at=now)
        )
        job.refresh_from_db()
        if not updated:
            if job.status == JobStatus.CANCELLED:
                return job  # cancelling twice is fine
            raise JobNotCancellable()
        usage_release(job=job)
        job_event_send(job)
    counter_inc("odiadev_jobs_finished", {"status": JobStatus.CANCELLED})
    return job


def synthesis_job_progress(*, job: SynthesisJob, done: int, total: int) -> None:
    """Record and announce how many segments of a long text are synthesized (only while this attempt runs)."""
    now = timezone.now()
    updated = SynthesisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        chunks_done=done, chunks_total=total, updated_at=now
    )
    if updated:
        job.chunks_done, job.chunks_total = done, total
        job_event_send(job)


def synthesis_job_batch_record(*, job: SynthesisJob, size: int, wait_seconds: float | None) -> None:
    """Record the batch the running attempt `job` decodes in: its largest batch so far, and how long it waited in
    the worker's batch scheduler (only while this attempt runs)."""
    updated = SynthesisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        batch_size=size, batch_wait_seconds=wait_seconds, updated_at=timezone.now()
    )
    if updated:
        job.batch_size, job.batch_wait_seconds = size, wait_seconds


def synthesis_job_requeue(*, job: SynthesisJob) -> bool:
    """Put the running attempt `job` back in the queue (for a retry after a transient error)."""
    now = timezone.now()
    with transaction.atomic():
        updated = SynthesisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
            status=JobStatus.QUEUED, started_at=None, enqueued_at=now, updated_at=now
        )
        if updated:
            job.refresh_from_db()
            job_event_send(job)
    return bool(updated)


def _storage_ref(job_id) -> str:
    """The job's audio in billing's storage ledger (one store and one delete entry per job)."""
    return f"synthesis.job:{job_id}"


def _record_finished(job: SynthesisJob) -> None:
    counter_inc("odiadev_jobs_finished", {"status": job.status})
    if job.latency_seconds is not None:
        histogram_observe(
            "odiadev_job_latency_seconds",
            job.latency_seconds,
            {"engine": job.engine, "voice_kind": job.voice_kind, "status": job.status},
        )


# ---------------------------------------------------------------------------------------------------------------
# Retention (called by the lifecycle policy)
# ---------------------------------------------------------------------------------------------------------------
def synthesis_job_audio_expire(*, job_id: uuid.UUID, now=None) -> str | None:
    """Let go of a job's audio after its retention: clear `audio`, set `audio_expired_at`, keep the row (history,
    billing) and take its bytes off the owner's storage. Returns the file name the job pointed to, or None if it had
    no audio (any more).

    The caller deletes the file, after this commits, and only if no other row points to it (a cache hit shares
    its source's file). The row lock pairs with the one a cache hit takes on its source (`cache.source_lock`), so no
    new job can start pointing at the file once this has committed."""
    now = now or timezone.now()
    with transaction.atomic():
        job = (
            SynthesisJob.objects.select_for_update()
            .filter(pk=job_id, audio_expired_at__isnull=True)
            .exclude(audio="")
            .first()
        )
        if job is None:
            return None
        name = job.audio.name
        SynthesisJob.objects.filter(pk=job.pk).update(audio="", audio_expired_at=now, updated_at=now)
        if not job.cached:  # a cache hit's file is its source's, counted there
            storage_record(
                user=job.user, delta=-(job.audio_bytes or 0), kind=StorageKind.DELETE, ref=_storage_ref(job.pk)
            )
    try:
        cache_forget_job(job.cache_key, job.id)
    except Exception:  # a stale entry is also dropped at look-up, since the row has no audio now
        logger.warning("could not drop the cache entry of job %s", job.id, exc_info=True)
    return name
