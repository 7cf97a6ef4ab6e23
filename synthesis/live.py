"""Text-in streaming (the /ws/tts/ socket): a context's text arrives in pieces and is spoken a sentence at a time.

A context is one job, the *live job*: created running when the context opens (it holds one of the account's job
slots), never run by a task itself. Each complete sentence becomes a *piece*: a job of its own with `parent` set to
the live job and its order in `piece`, submitted through `synthesis_job_create` like any job, so everything that
keeps jobs safe keeps pieces safe: the row is committed before its task is sent (the outbox), a lost task is sent
again by the sweeper, a killed worker's piece is retried, a duplicate delivery runs once, and its characters are
reserved at submit and captured when its audio is made or released when it is cancelled or fails. Characters are
therefore billed per piece, as each is spoken; a `cancel` cancels the pieces not yet made, which bills nothing for
them.

When the context ends (`close`, `cancel`, its idle timeout, its socket gone, or the sweeper finding it abandoned),
`live_job_close` marks the live job closed (no piece joins it after that) and sends its assembly task, which waits
for every piece to be final and then joins the audio of the pieces that were made, in order, into the live job's
file (`live_runner.live_job_assemble`, worker side). Each step is a conditional update, so repeating any of them
changes nothing.

The live job and its pieces share the voice and audio options given at `context.open`; listings show the live job
only (its pieces are hidden), and the pieces send no job events or webhooks of their own.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.selectors import plan_and_watermark_for
from billing.services import usage_admit
from controls.admission import admit_engine, admit_new_work
from core.tasks import task_send
from voices.selectors import voice_get_for

from .errors import TimestampsUnavailable
from .events import job_event_send
from .formats import output_bitrate, output_sample_rate
from .models import JobStatus, SynthesisJob
from .services import check_cloned_voice, check_options, job_voice_fields, jobs_in_progress, synthesis_job_create
from .timestamps import timestamps_available
from .transitions import synthesis_job_cancel, synthesis_job_queue

logger = logging.getLogger(__name__)

LIVE_ASSEMBLE_TASK = "synthesis.live_assemble"


def live_job_open(
    *,
    user,
    api_key=None,
    voice_id: str,
    output_format: str,
    sample_rate: int | None = None,
    bitrate: int | None = None,
    speed: float = 1.0,
    seed: int | None = None,
    timestamps: bool = False,
) -> SynthesisJob:
    """Open a context: check its options as POST /v1/tts would (same errors, same codes) and create its live job,
    running, in one of the account's job slots (`concurrency_limit` when none is free). With `timestamps` each
    piece is timed (its alignment message carries `words`) and the assembled job gets the joined `words`."""
    switches = admit_new_work()
    plan, watermark = plan_and_watermark_for(user=user)
    check_options(output_format=output_format, sample_rate=sample_rate, speed=speed, seed=seed, plan=plan)
    voice = voice_get_for(user=user, voice_id=voice_id)
    admit_engine(voice.engine, states=switches)
    if timestamps and not timestamps_available(voice.engine, recogniser=settings.TTS_TIMESTAMPS_RECOGNISER):
        raise TimestampsUnavailable(detail={"voice_id": voice.id, "engine": voice.engine})
    if voice.kind == "cloned":
        check_cloned_voice(voice_id=voice.id, plan=plan, speed=speed, switches=switches)
    sample_rate = output_sample_rate(output_format, voice.sample_rate, sample_rate)
    now = timezone.now()
    job = SynthesisJob(
        user=user,
        api_key=api_key,
        text="",
        characters=0,
        **job_voice_fields(voice),
        output_format=output_format,
        sample_rate=sample_rate,
        bitrate=output_bitrate(output_format, sample_rate, bitrate),
        speed=speed,
        seed=seed,
        watermark=watermark,
        cache_key="",  # its audio is its pieces': never a cache source or hit itself
        streamed=True,
        timestamps=timestamps,
        live=True,
        status=JobStatus.RUNNING,
        queued_at=now,
        started_at=now,
    )
    with transaction.atomic():
        usage_admit(user=user, characters=0, active_jobs=jobs_in_progress(user=user).count)
        job.save()
        job_event_send(job)
    return job


def live_piece_submit(*, job: SynthesisJob, piece: int, text: str, normalize: bool = True) -> SynthesisJob:
    """Submit sentence number `piece` of the open live job `job` (its own job, billed as it is made). Raises what
    POST /v1/tts raises (`quota_exceeded`, `maintenance_mode`, ...) and `context_closed` once the context ended."""
    piece_job = synthesis_job_create(
        user=job.user,
        api_key=job.api_key,
        text=text,
        voice_id=job.voice_id,
        output_format=job.output_format,
        sample_rate=job.sample_rate,
        bitrate=job.bitrate,
        speed=job.speed,
        seed=job.seed,
        normalize=normalize,
        streamed=True,
        timestamps=job.timestamps,
        parent=job,
        piece=piece,
    )
    # Activity: the sweeper closes only live jobs that have been quiet for longer than any context can be.
    SynthesisJob.objects.filter(pk=job.pk, live_closed_at__isnull=True).update(updated_at=timezone.now())
    return piece_job


def live_job_spoken(*, job_id: uuid.UUID) -> dict:
    """What the live job has spoken so far: its pieces made (succeeded) and their characters."""
    made = SynthesisJob.objects.filter(parent_id=job_id, status=JobStatus.SUCCEEDED)
    return {"pieces": made.count(), "characters": made.aggregate(total=Sum("characters"))["total"] or 0}


def live_job_close(*, job_id: uuid.UUID) -> dict:
    """End the context of live job `job_id`: no piece joins it any more, and its assembly is sent once this commits
    (again if called again: the assembly is idempotent). Returns `live_job_spoken`."""
    with transaction.atomic():
        SynthesisJob.objects.select_for_update().filter(pk=job_id, live=True).first()
        closed = SynthesisJob.objects.filter(pk=job_id, live=True, live_closed_at__isnull=True).update(
            live_closed_at=timezone.now(), updated_at=timezone.now()
        )
        engine = SynthesisJob.objects.filter(pk=job_id).values_list("engine", flat=True).first()
        if engine is not None:
            transaction.on_commit(lambda: live_job_assemble_send(job_id=job_id, engine=engine))
    if closed:
        logger.info("live job %s closed", job_id)
    return live_job_spoken(job_id=job_id)


def live_job_cancel(*, job_id: uuid.UUID) -> dict:
    """Interrupt the context: close it, then cancel its pieces not yet made (their characters are released; a
    worker making one discards its audio). Pieces already made stay billed and in the job's audio."""
    live_job_close(job_id=job_id)
    for piece_job in SynthesisJob.objects.filter(parent_id=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]):
        try:
            synthesis_job_cancel(job=piece_job)
        except Exception:  # finished meanwhile (then it is billed: it was made)
            logger.info("piece %s of live job %s finished before it could be cancelled", piece_job.pk, job_id)
    return live_job_spoken(job_id=job_id)


def live_job_assemble_send(*, job_id: uuid.UUID, engine: str) -> bool:
    """Send the live job's assembly to its engine's queue (whose workers have the audio codecs); a failure is left
    to the sweeper."""
    return task_send(
        LIVE_ASSEMBLE_TASK,
        args=[str(job_id)],
        queue=synthesis_job_queue(engine),
        failure=f"could not send the assembly of live job {job_id}; the sweeper will",
        logger=logger,
    )


def live_piece_state(*, job_id: uuid.UUID) -> dict | None:
    """A piece's outcome for its socket: status, text, characters, duration, error, stored file, words (when
    the job has word timings)."""
    job = SynthesisJob.objects.filter(pk=job_id).first()
    if job is None:
        return None
    return {
        "status": job.status,
        "final": job.is_final,
        "text": job.text,
        "characters": job.characters,
        "duration": job.duration_seconds or 0.0,
        "error_code": job.error_code,
        "error_message": job.error_message,
        "audio": job.audio.name if job.audio else "",
        "words": getattr(job, "words", None),
    }


def live_piece_audio_read(*, name: str) -> bytes:
    """A piece's stored audio (when its stream was lost: the socket sends the file instead)."""
    from django.core.files.storage import default_storage

    with default_storage.open(name, "rb") as stored:
        return stored.read()


def live_jobs_sweep(*, now=None) -> dict[str, int]:
    """Close the live jobs whose context was abandoned (its web process died: quiet for longer than a context's
    idle timeout plus a piece's time limit), and send again the assembly of closed live jobs still not assembled a
    minute later (its message lost). Returns how many of each."""
    now = now or timezone.now()
    quiet = now - timedelta(seconds=settings.TTS_WS_CONTEXT_IDLE_SECONDS + settings.TTS_JOB_TIME_LIMIT + 60)
    live = SynthesisJob.objects.filter(live=True, status=JobStatus.RUNNING)
    abandoned = list(live.filter(live_closed_at__isnull=True, updated_at__lt=quiet).values_list("pk", flat=True))
    for job_id in abandoned:
        logger.warning("live job %s: its context was abandoned; closing it", job_id)
        live_job_close(job_id=job_id)
    resent = 0
    late = live.filter(live_closed_at__lt=now - timedelta(seconds=60))
    for job_id, engine in late.values_list("pk", "engine"):
        resent += live_job_assemble_send(job_id=job_id, engine=engine)
    return {"live_closed": len(abandoned), "live_assemblies_resent": resent}
