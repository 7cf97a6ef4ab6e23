"""Identical jobs in flight share one synthesis (worker side).

Two submits with the same cache key (same spoken text, voice, format, settings, watermark and cache scope: with the
default `TTS_CACHE_SCOPE=account`, the same account) that both miss the cache become two jobs, each billed as a miss
at submit. Before the worker synthesizes a job it takes its turn on the cache key:

- a short-lived lock per cache key in Redis, held by the job synthesizing it (TTL: the task's hard time limit);
- an identical job that finds the lock held waits (polling the cache index and the lock) until the cache has the
  holder's audio, then is served from it like a cache hit: `cached`, `source_job` = the job that synthesized,
  no engine time, no new file;
- the holder failed or was cancelled: the lock goes and the next job synthesizes itself. A waiter gives up after
  half the job time limit (a holder whose worker died) and synthesizes anyway: coalescing saves engine work, it
  never decides whether a job gets its audio. Redis out of reach: no coalescing.

Billing: a served job costs what a cache hit costs. Its reservation (made as a miss) is captured when cache hits
are billed (`TTS_BILL_CACHE_HITS`, the default: a hit costs its characters as a miss does), and released (net 0)
when they are free. Its ledger rows keep `cached=False` from the reservation; the job row says `cached`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from billing.services import cache_hits_billed, usage_capture, usage_release
from core.db import connections_release
from core.exceptions import is_backend_outage
from core.metrics import counter_inc

from .cache import cached_source_for, source_lock
from .events import job_event_send, job_webhook_emit
from .models import JobStatus, SynthesisJob
from .streaming import stream_stored
from .timestamps import words_timed

logger = logging.getLogger(__name__)


def _turn_key(cache_key: str) -> str:
    # Not under the cache index's `synth:` namespace: clearing the cache must not free a turn in use.
    return f"synth-turn:{cache_key}"


def _turn_try(job: SynthesisJob) -> bool:
    """Take the cache key's turn for `job` (or find it already the job's own: an earlier attempt's)."""
    key = _turn_key(job.cache_key)
    return cache.add(key, str(job.id), timeout=settings.TTS_JOB_TIME_LIMIT + 30) or cache.get(key) == str(job.id)


def _turn_release(job: SynthesisJob) -> None:
    key = _turn_key(job.cache_key)
    try:
        if cache.get(key) == str(job.id):
            cache.delete(key)
    except Exception:  # the turn expires on its own
        logger.warning("could not release the synthesis turn of job %s", job.id, exc_info=True)


def _turn_wait(job: SynthesisJob) -> tuple[SynthesisJob | None, bool]:
    """(the cached job that answers `job`, or None; whether `job` holds the turn). Waits while an identical job
    holds the turn."""
    deadline = time.monotonic() + settings.TTS_JOB_TIME_LIMIT / 2
    delay, waited = 0.05, False
    while True:
        source = cached_source_for(job.cache_key, timestamps=job.timestamps)
        if source is not None:
            return source, False
        try:
            if _turn_try(job):
                # The holder may have stored its audio between our look-up and its release.
                return cached_source_for(job.cache_key, timestamps=job.timestamps), True
        except Exception as exc:
            if not is_backend_outage(exc):
                raise
            logger.warning("Redis unavailable: job %s synthesizes without coalescing", job.id)
            return None, False
        if time.monotonic() >= deadline:
            logger.warning("job %s gave up waiting for an identical job; synthesizing it too", job.id)
            return None, False
        if not waited:
            waited = True
            logger.info("job %s waits for an identical job in flight", job.id)
            connections_release()  # no connection held while we wait
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


@contextmanager
def synthesis_turn(job: SynthesisJob) -> Iterator[SynthesisJob | None]:
    """Yield the cached job whose audio answers `job` (serve it: `synthesis_job_serve_cached`), or None: then
    synthesize, holding the cache key's turn until the block ends (after the audio is recorded and indexed)."""
    source, held = _turn_wait(job)
    try:
        yield source
    finally:
        if held:
            _turn_release(job)


def synthesis_job_serve_cached(*, job: SynthesisJob, source: SynthesisJob) -> str:
    """Finish the running attempt `job` with `source`'s audio, billed as a cache hit: "coalesced"; "gone" if the
    source's audio expired meanwhile (synthesize instead); "discarded" if the job was cancelled or retaken."""
    now = timezone.now()
    with transaction.atomic():
        # The same lock a cache hit takes at submit: the lifecycle policy cannot delete the file under us.
        source = source_lock(source)
        if source is None or (job.timestamps and source.spoken_word_times is None):
            return "gone"
        timed = (
            {
                "spoken_word_times": source.spoken_word_times,
                "words": words_timed(job.word_spans, source.spoken_word_times),
            }
            if job.timestamps
            else {}
        )
        updated = SynthesisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
            **timed,
            status=JobStatus.SUCCEEDED,
            cached=True,
            source_job=source,
            audio=source.audio.name,
            audio_bytes=source.audio_bytes,
            duration_seconds=source.duration_seconds,
            engine_seconds=0.0,
            finished_at=now,
            error_code="",
            error_message="",
            updated_at=now,
        )
        if not updated:
            return "discarded"
        job.refresh_from_db()
        if cache_hits_billed():
            usage_capture(job=job)
        else:
            usage_release(job=job)  # a free hit: the miss's reservation goes back whole
        job_event_send(job)
        job_webhook_emit(job)
    if job.streamed:
        stream_stored(job)
    counter_inc("odiadev_jobs_finished", {"status": JobStatus.SUCCEEDED})
    logger.info("job %s served from job %s, synthesized once for both", job.id, source.id)
    return "coalesced"
