"""Submitting synthesis jobs: checks, the cache, billing's reservation, and the task sent after commit.

Everything here is safe to import in a web process: the engines run in `runner.py`, on workers only. The job's
later states are in `transitions.py`; waiting, sweeping and pronunciations have their own modules."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.errors import plan_forbids_format
from billing.selectors import account_terms_for
from billing.services import cache_hits_billed, usage_admit, usage_reserve, usage_reserve_captured, usage_take
from billing.storage import storage_check
from billing.terms import AccountTerms, AccountTermsChanged
from controls.admission import admit_cloning, admit_engine, admit_new_work
from core.exceptions import ApplicationError
from core.metrics import counter_inc, counters_inc
from textnorm import spoken_text as text_spoken
from textnorm.spans import spans_tracked, word_units
from voices.errors import CloningEngineUnavailable
from voices.selectors import voice_get_for
from voices.services import voice_profile_mark_used

from .cache import HIT_FIELDS, cache_key_for, cached_source_get, cached_source_id_for, text_canonical, text_is_empty
from .errors import (
    InvalidFormat,
    InvalidSeed,
    InvalidSpeed,
    LiveContextClosed,
    SpokenTextTooLong,
    TextEmpty,
    TextTooLong,
    TimestampsUnavailable,
)
from .events import job_event_send, job_webhook_emit
from .formats import OUTPUT_FORMATS, output_bitrate, output_sample_rate, sample_rate_check
from .idempotency import IdempotentRequest, idempotency_key_bind, idempotency_key_claim, idempotent_job_find
from .models import JobStatus, SynthesisJob
from .playground import text_limit
from .selectors import pronunciation_entries_for
from .streaming import stream_stored
from .timestamps import timestamps_available, words_timed
from .transitions import synthesis_job_enqueue

logger = logging.getLogger(__name__)


SPEED_MIN, SPEED_MAX = 0.5, 2.0
SEED_MAX = 2**32 - 1
# The spoken form may be this many times longer than the text limit. Billing counts the characters sent, so
# without a bound a short text could buy a long recording (a one-letter dictionary entry said as 200 letters).
# Spelling out numbers stays well inside it: "₦2,500" (6) -> "two thousand five hundred naira" (30).
SPOKEN_EXPANSION_MAX = 6


# ---------------------------------------------------------------------------------------------------------------
# Submit
# ---------------------------------------------------------------------------------------------------------------
def _check_request(
    *, text: str, output_format: str, sample_rate: int | None, speed: float, seed: int | None, plan
) -> str:
    normalized = text_canonical(text)
    if text_is_empty(normalized):
        raise TextEmpty()
    limit = text_limit(plan)
    if len(normalized) > limit:
        raise TextTooLong(
            f"Text is {len(normalized)} characters; the limit on the {plan.name} plan is {limit}. "
            "Split it into several requests.",
            detail={"characters": len(normalized), "max_characters": limit},
        )
    check_options(output_format=output_format, sample_rate=sample_rate, speed=speed, seed=seed, plan=plan)
    return normalized


def check_options(*, output_format: str, sample_rate: int | None, speed: float, seed: int | None, plan) -> None:
    """The request's audio options against the formats, the plan and the ranges (also a live context's, which has
    no text yet: synthesis.live)."""
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


def check_cloned_voice(*, voice_id: str, plan, speed: float, switches: dict[str, bool] | None = None) -> None:
    # In order of who decides: the operator (kill switch), the customer's plan, the deployment, the request.
    admit_cloning(plan_allows_cloning=plan.allows_cloning, states=switches)
    if not settings.CLONING_ENGINE:
        raise CloningEngineUnavailable(detail={"voice_id": voice_id})
    if speed != 1.0:
        raise InvalidSpeed("Cloned voices speak at the speed of their sample: send speed 1.0.")


def _spoken_text_for(
    *, user, text: str, normalize: bool, terms: AccountTerms, timestamps: bool
) -> tuple[str, list | None]:
    """What the engine will say for `text`: the account's pronunciations (as of `terms`' revision, which the
    account's lock confirms), then (if asked) English normalisation; with `timestamps`, also the words of `text`,
    each with the spoken words that say it ([text, first, end])."""
    entries = pronunciation_entries_for(user=user, revision=terms.revision)
    with spans_tracked(text) if timestamps else nullcontext() as tracked:
        spoken = text_canonical(text_spoken(text, normalize_text=normalize, pronunciations=entries))
        origins = tracked.finish(spoken) if tracked is not None else None
    if text_is_empty(spoken):
        raise TextEmpty()
    limit = text_limit(terms.plan) * SPOKEN_EXPANSION_MAX
    if len(spoken) > limit:
        raise SpokenTextTooLong(detail={"spoken_characters": len(spoken), "max_spoken_characters": limit})
    if origins is None:
        return spoken, None
    return spoken, [list(unit) for unit in word_units(text, spoken, origins)]


def job_voice_fields(voice) -> dict:
    """The fields a job keeps of its voice (voices.selectors.Voice) as it was when the job was made: what the
    worker loads, what the cache key and provenance name."""
    return {
        "voice_id": voice.id,
        "voice_kind": voice.kind,
        "voice_version": voice.version,
        "engine": voice.engine,
        "engine_voice": voice.engine_voice,
        "model_id": voice.model_id,
        "model_revision": voice.model_revision,
    }


def synthesis_job_create(*, user, **options) -> SynthesisJob:
    """`_job_create` on the account's terms (plan, watermark rule; billing/terms.py): this process's copy of them,
    confirmed by the account's locked read, and when they changed since, again on the row's."""
    terms = account_terms_for(user=user)
    try:
        return _job_create(user=user, terms=terms, **options)
    except AccountTermsChanged:
        return _job_create(user=user, terms=account_terms_for(user=user, fresh=True), **options)
    except ApplicationError:
        # A check before the lock may have refused on a stale copy (a plan upgraded a moment ago): decide again.
        fresh = account_terms_for(user=user, fresh=True) if terms.kept else terms
        if fresh.stamp == terms.stamp:
            raise
        return _job_create(user=user, terms=fresh, **options)


def _job_create(
    *,
    user,
    terms: AccountTerms,
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
    timestamps: bool = False,
    idempotency: IdempotentRequest | None = None,
    parent: SynthesisJob | None = None,
    piece: int | None = None,
) -> SynthesisJob:
    """Create a job: answered at once from the cache when an identical request has audio, else queued.

    With `idempotency` the key is claimed first in the job's transaction (see `synthesis_job_submit`): a parallel
    request that claimed it first makes this one raise IntegrityError with nothing written.

    The job keeps the text as sent (history, billing) and the spoken text the engine reads. The cache key is
    computed from the spoken text, so any change of the account's dictionary (or of normalisation) that changes
    what is said also changes the key: a stale hit is impossible, and texts the change does not touch keep theirs.

    `sample_rate` defaults to the voice's own rate (ulaw: 8000; ogg from a 22.05 or 44.1 kHz voice: 48000), and
    `bitrate` (mp3 only) to 128 kbps, or the most the sample rate allows below that.

    `timestamps`: the job gets `words` (synthesis/timestamps.py says which engines can, and how the cache serves it).
    With `parent` (a live job, synthesis.live) the job is its piece number `piece`: it takes no job slot of its
    own (the live job holds one), and the live job must still be open (LiveContextClosed otherwise).
    """
    switches = admit_new_work()
    # The plan (or the account's opt-in) says whether its audio carries the provenance watermark, which the worker
    # embeds before encoding; the flag is part of the cache key, so marked and unmarked audio never answer each other.
    plan, watermark = terms.plan, terms.watermark
    normalized = _check_request(
        text=text, output_format=output_format, sample_rate=sample_rate, speed=speed, seed=seed, plan=plan
    )
    spoken, word_spans = _spoken_text_for(
        user=user, text=normalized, normalize=normalize, terms=terms, timestamps=timestamps
    )
    voice = voice_get_for(user=user, voice_id=voice_id)
    admit_engine(voice.engine, states=switches)
    if timestamps and not timestamps_available(voice.engine, recogniser=settings.TTS_TIMESTAMPS_RECOGNISER):
        raise TimestampsUnavailable(detail={"voice_id": voice.id, "engine": voice.engine})
    if voice.kind == "cloned":
        check_cloned_voice(voice_id=voice.id, plan=plan, speed=speed, switches=switches)
    sample_rate = output_sample_rate(output_format, voice.sample_rate, sample_rate)
    bitrate = output_bitrate(output_format, sample_rate, bitrate)
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
        **job_voice_fields(voice),
        output_format=output_format,
        sample_rate=sample_rate,
        bitrate=bitrate,
        speed=speed,
        seed=seed,
        watermark=watermark,
        cache_key=cache_key,
        streamed=streamed,
        timestamps=timestamps,
        word_spans=word_spans,
        queued_at=now,
        parent=parent,
        piece=piece,
    )
    source_id = cached_source_id_for(cache_key)
    if source_id is None:
        # A cache hit stores nothing new; anything else will, so it must fit the account's storage.
        storage_check(user=user, plan=plan)
    with transaction.atomic():
        claim = idempotency_key_claim(user=user, request=idempotency) if idempotency is not None else None
        source = None
        if source_id is not None:
            # Read locked, so that the lifecycle policy cannot expire the source's audio (and delete its file)
            # before the commit of a job pointing at that file; gone: synthesize instead.
            source = cached_source_get(cache_key, source_id, timestamps=timestamps, lock=True, only=HIT_FIELDS)
            if source is None:
                storage_check(user=user, plan=plan)
        if parent is not None:
            # Before the account lock (live.live_job_close locks the live job alone): no piece joins a live job
            # once its context ended and its assembly may have read its pieces.
            live_job_lock_open(parent)
        if voice.kind == "cloned":
            # Before the account lock: a voice's deletion locks the profile, then the account.
            voice_profile_mark_used(profile_id=voice.id, now=now)
        cached = source is not None
        billed = job.characters if (not cached or cache_hits_billed()) else 0
        # Each branch locks the account before the job's row: parallel submits queue there, so none can overdraw or
        # exceed the job slots.
        if cached:
            # A hit takes no slot and is final at once: admitted and charged in one statement.
            taken = usage_take(user=user, terms=terms, characters=billed)
            job.cached = True
            job.source_job = source
            job.status = JobStatus.SUCCEEDED
            job.audio = source.audio.name
            job.audio_bytes = source.audio_bytes
            job.duration_seconds = source.duration_seconds
            if timestamps:
                job.spoken_word_times = source.spoken_word_times
                job.words = words_timed(word_spans, source.spoken_word_times)
            job.engine_seconds = 0.0
            job.started_at = job.finished_at = now
            job.save()
            usage_reserve_captured(taken=taken, job=job)
            job_webhook_emit(job, revision=terms.revision)  # (confirmed by usage_take's lock)
            if job.streamed:  # no worker will stream it: its stored file is its stream, for socket listeners
                transaction.on_commit(partial(_stream_cache_hit, job))
        else:
            account = usage_admit(
                user=user,
                terms=terms,
                characters=billed,
                active_jobs=(lambda: jobs_in_progress(user=user).count()) if parent is None else None,
            )
            job.save()  # (`enqueued_at` stays empty until the broker has taken the message)
            usage_reserve(account=account, job=job, characters=billed)
        if claim is not None:
            idempotency_key_bind(claim=claim, job=job)
        # A queued job's task goes out once its "queued" event has: the worker's "running" cannot overtake it.
        enqueue = None if job.is_final else partial(synthesis_job_enqueue, job_id=job.id, engine=job.engine)
        job_event_send(job, created=True, then=enqueue)
    if source is None:
        counter_inc("odiadev_cache_misses")
    else:
        counters_inc(("odiadev_cache_hits", None), ("odiadev_jobs_finished", {"status": JobStatus.SUCCEEDED}))
    return job


def jobs_in_progress(*, user):
    """The account's jobs that hold a job slot: queued or running, a live job (while its context is open and its
    audio is assembled) but not its pieces."""
    return SynthesisJob.objects.filter(user=user, status__in=[JobStatus.QUEUED, JobStatus.RUNNING], parent=None)


def live_job_lock_open(parent: SynthesisJob) -> None:
    """Lock the live job `parent` for this transaction; LiveContextClosed if its context has ended."""
    open_ = SynthesisJob.objects.select_for_update().filter(
        pk=parent.pk, live_closed_at__isnull=True, status=JobStatus.RUNNING
    )
    if not open_.exists():
        raise LiveContextClosed()


def _stream_cache_hit(job: SynthesisJob) -> None:
    try:
        stream_stored(job, finish=True)
    except Exception:  # the file and the job are there; only a socket listener misses the stream
        logger.warning("could not stream cached job %s to its listeners", job.id, exc_info=True)


def synthesis_job_submit(*, idempotency: IdempotentRequest | None, **options) -> tuple[SynthesisJob, bool]:
    """`synthesis_job_create(**options)`, once per Idempotency-Key: (the job, whether it is an earlier request's).

    A live key already used for this request answers its job (no checks, no charge); one used for another request
    is 409 `idempotency_key_reused`. A parallel request that claimed the key first wins the unique constraint: this
    request's transaction rolls back whole and it answers the winner's job."""
    if idempotency is None:
        return synthesis_job_create(**options), False
    user = options["user"]
    earlier = idempotent_job_find(user=user, request=idempotency)
    if earlier is not None:
        return earlier, True
    try:
        return synthesis_job_create(idempotency=idempotency, **options), False
    except IntegrityError:
        winner = idempotent_job_find(user=user, request=idempotency)
        if winner is None:  # not the key's constraint
            raise
        logger.info("Idempotency-Key of job %s: a parallel request claimed it first; answering its job", winner.id)
        return winner, True
