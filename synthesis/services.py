"""Writes for synthesis jobs (submit, state transitions, waiting, sweeping) and pronunciation dictionaries.

Everything here is safe to import in a web process: the engines run in `runner.py`, on workers only. Work is sent
to workers by task name after the transaction that created the job commits.
"""

from __future__ import annotations

import logging
import time
import unicodedata
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.errors import plan_forbids_format
from billing.models import StorageKind
from billing.selectors import audio_watermarked_for, plan_for
from billing.services import cache_hits_billed, usage_admit, usage_capture, usage_release, usage_reserve
from billing.storage import storage_check, storage_record
from controls.admission import admit_cloning, admit_engine, admit_new_work
from core.heartbeat import worker_id, worker_is_alive
from core.metrics import counter_inc, histogram_observe
from core.tasks import task_send
from textnorm import spoken_text as text_spoken
from voices.errors import CloningEngineUnavailable
from voices.selectors import voice_get_for
from voices.services import voice_profile_mark_used

from .cache import cache_forget, cache_forget_job, cache_key_for, cache_lookup, cache_store, normalize_text
from .errors import (
    InvalidFormat,
    InvalidSeed,
    InvalidSpeed,
    JobErrorCode,
    JobNotCancellable,
    PronunciationExists,
    PronunciationInvalid,
    PronunciationLimitReached,
    SpokenTextTooLong,
    TextEmpty,
    TextTooLong,
)
from .events import job_event_send, job_webhook_emit
from .formats import OUTPUT_FORMATS, output_bitrate, output_sample_rate, sample_rate_check
from .models import FINAL_STATUSES, JobStatus, Pronunciation, SynthesisJob
from .selectors import pronunciation_entries_for, pronunciation_get_for

logger = logging.getLogger(__name__)

RUN_JOB_TASK = "synthesis.run_job"
SPEED_MIN, SPEED_MAX = 0.5, 2.0
SEED_MAX = 2**32 - 1
# The spoken form may be this many times longer than the text limit. Billing counts the characters sent, so
# without a bound a short text could buy a long recording (a one-letter dictionary entry said as 200 letters).
# Spelling out numbers stays well inside it: "₦2,500" (6) -> "two thousand five hundred naira" (30).
SPOKEN_EXPANSION_MAX = 6


# ---------------------------------------------------------------------------------------------------------------
# Submit
# ---------------------------------------------------------------------------------------------------------------
def _text_limit(plan) -> int:
    return min(settings.TTS_MAX_TEXT_CHARS, plan.max_text_chars)


def _check_request(
    *, text: str, output_format: str, sample_rate: int | None, speed: float, seed: int | None, plan
) -> str:
    normalized = normalize_text(text)
    if not normalized:
        raise TextEmpty()
    limit = _text_limit(plan)
    if len(normalized) > limit:
        raise TextTooLong(
            f"Text is {len(normalized)} characters; the limit on the {plan.name} plan is {limit}. "
            "Split it into several requests.",
            detail={"characters": len(normalized), "max_characters": limit},
        )
    if output_format not in OUTPUT_FORMATS:
        raise InvalidFormat(
            f"Format {output_format!r} is not supported. Use one of: {', '.join(OUTPUT_FORMATS)}.",
            detail={"supported": list(OUTPUT_FORMATS)},
        )
    if output_format not in plan.allowed_formats:
        raise plan_forbids_format(output_format, plan.allowed_formats, plan.name)
    sample_rate_check(output_format, sample_rate)
    if not SPEED_MIN <= speed <= SPEED_MAX:
        raise InvalidSpeed(detail={"min": SPEED_MIN, "max": SPEED_MAX})
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise InvalidSeed()
    return normalized


def _check_cloned_voice(*, voice_id: str, plan, speed: float) -> None:
    # In order of who decides: the operator (kill switch), the customer's plan, the deployment, the request.
    admit_cloning(plan_allows_cloning=plan.allows_cloning)
    if not settings.CLONING_ENGINE:
        raise CloningEngineUnavailable(detail={"voice_id": voice_id})
    if speed != 1.0:
        raise InvalidSpeed("Cloned voices speak at the speed of their sample: send speed 1.0.")


def _spoken_text_for(*, user, text: str, normalize: bool, plan) -> str:
    """What the engine will say for `text`: the account's pronunciations, then (if asked) English normalisation."""
    spoken = normalize_text(
        text_spoken(text, normalize_text=normalize, pronunciations=pronunciation_entries_for(user=user))
    )
    if not spoken:
        raise TextEmpty()
    limit = _text_limit(plan) * SPOKEN_EXPANSION_MAX
    if len(spoken) > limit:
        raise SpokenTextTooLong(detail={"spoken_characters": len(spoken), "max_spoken_characters": limit})
    return spoken


def synthesis_job_create(
    *,
    user,
    api_key=None,
    text: str,
    voice_id: str,
    output_format: str = "wav",
    sample_rate: int | None = None,
    bitrate: int | None = None,
    speed: float = 1.0,
    seed: int | None = None,
    normalize: bool = True,
    streamed: bool = False,
) -> SynthesisJob:
    """Create a job: answered at once from the cache when an identical request has audio, else queued.

    The job keeps the text as sent (history, billing) and the spoken text the engine reads. The cache key is
    computed from the spoken text, so any change of the account's dictionary (or of normalisation) that changes
    what is said also changes the key: a stale hit is impossible, and texts the change does not touch keep theirs.

    `sample_rate` defaults to the voice's own rate (ulaw: 8000; ogg from a 22.05 or 44.1 kHz voice: 48000), and
    `bitrate` (mp3 only) to 128 kbps, or the most the sample rate allows below that.
    """
    admit_new_work()
    plan = plan_for(user=user)
    normalized = _check_request(
        text=text, output_format=output_format, sample_rate=sample_rate, speed=speed, seed=seed, plan=plan
    )
    spoken = _spoken_text_for(user=user, text=normalized, normalize=normalize, plan=plan)
    voice = voice_get_for(user=user, voice_id=voice_id)
    admit_engine(voice.engine)
    if voice.kind == "cloned":
        _check_cloned_voice(voice_id=voice.id, plan=plan, speed=speed)
    sample_rate = output_sample_rate(output_format, voice.sample_rate, sample_rate)
    bitrate = output_bitrate(output_format, sample_rate, bitrate)
    # The plan (or the account's opt-in) says whether its audio carries the provenance watermark, which the worker
    # embeds before encoding; the flag is part of the cache key, so marked and unmarked audio never answer each other.
    watermark = audio_watermarked_for(user=user)
    cache_key = cache_key_for(
        text=spoken,
        voice_id=voice.id,
        voice_version=voice.version,
        engine=voice.engine,
        model_id=voice.model_id,
        model_revision=voice.model_revision,
        speed=speed,
        output_format=output_format,
        sample_rate=sample_rate,
        bitrate=bitrate,
        seed=seed,
        watermark=watermark,
        scope="global" if settings.TTS_CACHE_SCOPE == "global" else f"user:{user.pk}",
    )
    now = timezone.now()
    job = SynthesisJob(
        user=user,
        api_key=api_key,
        text=normalized,
        spoken_text=spoken,
        characters=len(normalized),
        voice_id=voice.id,
        voice_kind=voice.kind,
        voice_version=voice.version,
        engine=voice.engine,
        engine_voice=voice.engine_voice,
        model_id=voice.model_id,
        model_revision=voice.model_revision,
        output_format=output_format,
        sample_rate=sample_rate,
        bitrate=bitrate,
        speed=speed,
        seed=seed,
        watermark=watermark,
        cache_key=cache_key,
        streamed=streamed,
        queued_at=now,
    )
    source = _cached_source(cache_key)
    if source is None:
        # A cache hit stores nothing new; anything else will, so it must fit the account's storage.
        storage_check(user=user, plan=plan)
    with transaction.atomic():
        if source is not None:
            # Locked so that the lifecycle policy cannot expire the source's audio (and delete its file) between
            # our look-up and the commit of a job pointing at that file; gone meanwhile: synthesize instead.
            source = _source_lock(source)
            if source is None:
                storage_check(user=user, plan=plan)
        if voice.kind == "cloned":
            # Before the account lock: a voice's deletion locks the profile, then the account.
            voice_profile_mark_used(profile_id=voice.id, now=now)
        cached = source is not None
        billed = job.characters if (not cached or cache_hits_billed()) else 0
        # Locks the account first: parallel submits queue here, so none can overdraw or exceed the job slots.
        in_progress = SynthesisJob.objects.filter(user=user, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        account = usage_admit(user=user, characters=billed, active_jobs=None if cached else in_progress.count)
        if source is not None:
            job.cached = True
            job.source_job = source
            job.status = JobStatus.SUCCEEDED
            job.audio = source.audio.name
            job.audio_bytes = source.audio_bytes
            job.duration_seconds = source.duration_seconds
            job.engine_seconds = 0.0
            job.started_at = job.finished_at = now
            job.save()
            usage_reserve(account=account, job=job, characters=billed, cached=True)
            usage_capture(job=job)
            job_webhook_emit(job)
        else:
            job.enqueued_at = now
            job.save()
            usage_reserve(account=account, job=job, characters=billed)
            transaction.on_commit(lambda: synthesis_job_enqueue(job_id=job.id, engine=job.engine))
        job_event_send(job)
    counter_inc("odiadev_cache_hits" if source is not None else "odiadev_cache_misses")
    if source is not None:
        counter_inc("odiadev_jobs_finished", {"status": JobStatus.SUCCEEDED})
    return job


def _cached_source(cache_key: str) -> SynthesisJob | None:
    """The succeeded job whose audio answers `cache_key`, or None. A stale index entry is dropped."""
    try:
        source_id = cache_lookup(cache_key)
    except Exception:  # the cache is an optimisation: with Redis away we synthesize instead
        logger.warning("synthesis cache unavailable", exc_info=True)
        return None
    if source_id is None:
        return None
    # An expired job's audio is gone (its `audio` is cleared): its entry is dropped, never served.
    source = (
        SynthesisJob.objects.filter(
            pk=source_id, status=JobStatus.SUCCEEDED, cache_key=cache_key, audio_expired_at__isnull=True
        )
        .exclude(audio="")
        .first()
    )
    if source is None:
        cache_forget(cache_key)
    return source


def _source_lock(source: SynthesisJob) -> SynthesisJob | None:
    """The cache source row locked for this transaction, if it still has its audio."""
    return (
        SynthesisJob.objects.select_for_update()
        .filter(pk=source.pk, audio_expired_at__isnull=True)
        .exclude(audio="")
        .first()
    )


def synthesis_job_enqueue(*, job_id: uuid.UUID, engine: str) -> bool:
    """Send the job's task message to its engine's queue. Call only after the job row is committed; a failure
    is left to the sweeper."""
    if task_send(
        RUN_JOB_TASK,
        args=[str(job_id)],
        queue=settings.SPEECH_ENGINE_QUEUES.get(engine, "synth"),
        failure=f"could not enqueue job {job_id}; the sweeper will retry",
        logger=logger,
    ):
        return True
    SynthesisJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(enqueued_at=None)
    return False


# ---------------------------------------------------------------------------------------------------------------
# Transitions (called by the worker). Each is one conditional UPDATE, so a duplicate delivery changes nothing.
# ---------------------------------------------------------------------------------------------------------------
def _stale_running_cutoff():
    # A running job older than the task's hard time limit has certainly lost its worker.
    return timezone.now() - timedelta(seconds=settings.TTS_JOB_TIME_LIMIT + 60)


def synthesis_job_claim(*, job_id: uuid.UUID) -> SynthesisJob | None:
    """Move a queued (or abandoned running) job to running for this attempt; None if there is nothing to do."""
    now = timezone.now()
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, started_at__lt=_stale_running_cutoff())
    claimed = SynthesisJob.objects.filter(claimable, pk=job_id).update(
        status=JobStatus.RUNNING, started_at=now, attempts=F("attempts") + 1, worker=worker_id(), updated_at=now
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
    cache_store(job.cache_key, job.id)
    _record_finished(job)
    counter_inc("odiadev_engine_runs", {"engine": job.engine})
    if clone_similarity is not None:
        success = clone_similarity >= settings.CLONE_SUCCESS_THRESHOLD
        counter_inc("odiadev_clone_results", {"outcome": "success" if success else "failure"})
    histogram_observe("odiadev_job_engine_seconds", engine_seconds, {"engine": job.engine})
    return True


def synthesis_job_fail(*, job_id: uuid.UUID, code: str, message: str) -> bool:
    """Mark a job that is not final as failed with a stable error code."""
    now = timezone.now()
    with transaction.atomic():
        updated = (
            SynthesisJob.objects.filter(pk=job_id)
            .exclude(status__in=FINAL_STATUSES)
            .update(status=JobStatus.FAILED, error_code=code, error_message=message, finished_at=now, updated_at=now)
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
    its source's file). The row lock pairs with the one a cache hit takes on its source (`_source_lock`), so no
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


# ---------------------------------------------------------------------------------------------------------------
# Waiting and sweeping
# ---------------------------------------------------------------------------------------------------------------
def synthesis_job_wait(*, job: SynthesisJob, timeout: float) -> SynthesisJob:
    """Block until the job is final or `timeout` seconds pass; return the freshest row either way."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not job.is_final and time.monotonic() < deadline:
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.25)
        job.refresh_from_db()
    return job


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
        for job_id, worker in running.filter(started_at__gte=_stale_running_cutoff()).values_list("pk", "worker")
        if worker and not worker_is_alive(worker)
    ]
    abandoned = running.filter(Q(started_at__lt=_stale_running_cutoff()) | Q(pk__in=dead))
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


# ---------------------------------------------------------------------------------------------------------------
# Pronunciation dictionary
# ---------------------------------------------------------------------------------------------------------------
_WORD_MAX, _REPLACEMENT_MAX = 100, 200


def _pronunciation_clean(field: str, value: str, max_length: int) -> str:
    # The same canonical form as the texts it is matched against (NFC, single spaces), or it could never match.
    cleaned = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not cleaned:
        raise PronunciationInvalid(f"The {field} is empty.", detail={"field": field})
    if len(cleaned) > max_length:
        raise PronunciationInvalid(
            f"The {field} is longer than {max_length} characters.", detail={"field": field, "max_length": max_length}
        )
    return cleaned


def _pronunciation_save(entry: Pronunciation) -> Pronunciation:
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as exc:
        raise PronunciationExists(detail={"word": entry.word}) from exc
    return entry


def pronunciation_create(
    *, user, word: str, replacement: str, case_sensitive: bool = False, whole_word: bool = True
) -> Pronunciation:
    """Add an entry to the account's dictionary; refused once it holds PRONUNCIATIONS_MAX_PER_ACCOUNT entries."""
    entry = Pronunciation(
        user=user,
        word=_pronunciation_clean("word", word, _WORD_MAX),
        replacement=_pronunciation_clean("replacement", replacement, _REPLACEMENT_MAX),
        case_sensitive=case_sensitive,
        whole_word=whole_word,
    )
    limit = settings.PRONUNCIATIONS_MAX_PER_ACCOUNT
    with transaction.atomic():
        # The account row lock serialises parallel creates, so the count cannot be raced past the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if Pronunciation.objects.filter(user=user).count() >= limit:
            raise PronunciationLimitReached(detail={"max_entries": limit})
        return _pronunciation_save(entry)


def pronunciation_update(
    *,
    user,
    pronunciation_id,
    word: str | None = None,
    replacement: str | None = None,
    case_sensitive: bool | None = None,
    whole_word: bool | None = None,
) -> Pronunciation:
    """Change one of the account's entries; fields left as None keep their value."""
    entry = pronunciation_get_for(user=user, pronunciation_id=pronunciation_id)
    if word is not None:
        entry.word = _pronunciation_clean("word", word, _WORD_MAX)
    if replacement is not None:
        entry.replacement = _pronunciation_clean("replacement", replacement, _REPLACEMENT_MAX)
    if case_sensitive is not None:
        entry.case_sensitive = case_sensitive
    if whole_word is not None:
        entry.whole_word = whole_word
    return _pronunciation_save(entry)


def pronunciation_delete(*, user, pronunciation_id) -> None:
    pronunciation_get_for(user=user, pronunciation_id=pronunciation_id).delete()
