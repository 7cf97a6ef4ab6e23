"""Worker side of synthesis: loads the engines once per process and turns a claimed job into stored audio.

Only worker processes import this module (through tasks); it is the one place where the Django apps meet
`speech/`.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from billing.selectors import plan_for
from controls.admission import admit_job
from controls.breaker import oom_record
from core.db import connections_release
from core.exceptions import ApplicationError
from core.recognition import speech_transcribe
from speech.audio import OggOpusStream, encode, mp3_stream_piece, stitch_offsets
from speech.batching import BatchScheduler, SynthesisTimeout
from speech.engines.base import Engine, PcmChunk, SynthesisRequest, VoicePrompt
from speech.errors import EngineError, TransientEngineError
from speech.timestamps import heard_word_times, spoken_word_times
from speech.watermark import watermark_apply
from voices.runner import clone_similarity, voice_prompt_for

from .coalescing import synthesis_job_serve_cached, synthesis_turn
from .errors import JobErrorCode
from .intelligibility import intelligibility_due, intelligibility_enqueue
from .models import JobStatus, SynthesisJob, audio_upload_to
from .serving import engine_get, scheduler_get
from .streaming import stream_finish, stream_publish
from .transitions import (
    synthesis_job_batch_record,
    synthesis_job_claim,
    synthesis_job_fail,
    synthesis_job_progress,
    synthesis_job_succeed,
)

logger = logging.getLogger(__name__)

# Ogg Opus streams of the jobs this process is streaming (one encoder across the pieces of a job).
_ogg_streams: dict = {}


def _stream_piece(job: SynthesisJob, piece) -> None:
    """Encode one engine piece in the job's (streamable) format and append it to the job's audio stream."""
    samples = watermark_apply(piece.samples, piece.sample_rate) if job.watermark else piece.samples
    if job.output_format == "ogg":
        ogg = _ogg_streams.setdefault(job.id, OggOpusStream(job.sample_rate))
        data = ogg.push(samples, piece.sample_rate)
    else:
        data = encode(samples, piece.sample_rate, job.output_format, target_rate=job.sample_rate, bitrate=job.bitrate)
        data = mp3_stream_piece(data) if job.output_format == "mp3" else data
    if data:
        stream_publish(job_id=job.id, data=data, attempt=job.attempts)


def _stream_close(job: SynthesisJob) -> None:
    ogg = _ogg_streams.pop(job.id, None)
    if ogg is not None:
        tail = ogg.close()
        if tail:
            stream_publish(job_id=job.id, data=tail, attempt=job.attempts)


def _segments(engine: Engine, text: str) -> list[str]:
    """A long text in the engine's own segments (Dia: dialogue-aware, its generation length) or, for the others,
    paragraph- and sentence-bounded pieces of at most TTS_SEGMENT_CHARS: each is one unit of progress."""
    return engine.segments(text, max_chars=settings.TTS_SEGMENT_CHARS) or [text]


def _synthesized(
    job: SynthesisJob, engine: Engine, segments: list[str], prompt: VoicePrompt | None
) -> Iterator[tuple[int, PcmChunk]]:
    """(segment index, piece) in order as the engine makes them. Each segment has the same voice, prompt and seed,
    so a long text keeps one voice throughout. An engine that batches gets the segments through this process's
    batch scheduler, where they decode together with each other and with other jobs' segments."""
    scheduler = scheduler_get(job.engine)
    if scheduler is None:
        for index, segment in enumerate(segments):
            request = SynthesisRequest(
                text=segment,
                voice=job.engine_voice,
                speed=job.speed,
                seed=job.seed,
                prompt=prompt,
                alignments=job.timestamps,
            )
            for piece in engine.synthesize(request):
                yield index, piece
        return
    # Without a seed one is drawn for the whole job, not per segment: its segments are one take of one voice.
    seed = job.seed if job.seed is not None else secrets.randbits(63)
    requests = [
        SynthesisRequest(
            text=segment, voice=job.engine_voice, speed=job.speed, seed=seed, prompt=prompt, alignments=job.timestamps
        )
        for segment in segments
    ]
    tickets = scheduler.enqueue_all(requests, str(job.user_id))
    recorded = 0
    try:
        for index, piece in BatchScheduler.stream_tickets(tickets, timeout=settings.TTS_JOB_TIME_LIMIT):
            recorded = _batch_record(job, tickets, recorded)
            yield index, piece
    except EngineError as exc:
        failed = next((t for t in tickets if t.error is exc), None)
        if failed is not None and failed.batch is not None:
            exc.batch_key = (id(scheduler), failed.batch)  # (for the OOM breaker: one count per batch)
        raise
    _batch_record(job, tickets, recorded)


def _batch_record(job: SynthesisJob, tickets, recorded: int) -> int:
    """Record the job's largest batch so far, when it grew (the first piece of its first batch, then seldom)."""
    size = max((t.batch_size or 0 for t in tickets), default=0)
    if size > recorded:
        first = tickets[0]
        wait = round(first.started - first.enqueued, 4) if first.started is not None else None
        synthesis_job_batch_record(job=job, size=size, wait_seconds=wait)
        logger.info("job %s decodes in batch %s of %d (waited %.3f s)", job.id, first.batch, size, wait or 0.0)
    return max(size, recorded)


# The OOM breaker counts one out-of-memory per batch: the jobs of a batch that ran dry together are one incident.
_oom_batches: deque = deque(maxlen=256)
_oom_lock = threading.Lock()


def _oom_first_in_batch(batch) -> bool:
    """Whether an out-of-memory in `batch` (None: a job decoded alone) is the first this process saw of it."""
    if batch is None:
        return True
    with _oom_lock:
        if batch in _oom_batches:
            return False
        _oom_batches.append(batch)
        return True


class JobRetry(Exception):
    """A transient failure: the job went back to queued and the task should retry later."""


def synthesis_job_execute(*, job_id: uuid.UUID | str) -> str:
    """Run one job end to end; returns what happened. Safe to call twice: the second call does nothing."""
    job = synthesis_job_claim(job_id=job_id)
    if job is None:
        return "skipped"
    if not job.streamed:
        return _run(job)
    try:
        return _run(job)
    finally:
        # Whatever happened (a retry too: the stream does not resume), the listener learns the stream is over.
        _stream_close(job)
        status = SynthesisJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        stream_finish(job_id=job.id, status=status or "gone")


def _word_times(job, engine: Engine, segments, pieces, offsets, samples, rate) -> list:
    """[start, end] seconds of the stitched audio per spoken word: from the engine's alignments, or (an engine
    without them) from what the speech recogniser hears in the audio."""
    if engine.capabilities.alignments:
        return spoken_word_times(pieces, offsets, rate, [len(segment.split()) for segment in segments])
    heard = speech_transcribe(samples, rate)
    spoken = (job.spoken_text or job.text).split()  # (not the segments': Dia's repeat speaker tags)
    return heard_word_times(spoken, [(w.text, w.start, w.end) for w in heard.words], len(samples) / rate)


def _db_release() -> None:
    """Give this thread's database connection back while the engine works (core.db): a GPU worker runs about twice
    `DIA_MAX_BATCH` job threads that mostly wait on the batch scheduler, against a pool of DATABASE_POOL_MAX_SIZE
    connections per process. The next query takes one again."""
    connections_release()


def _run(job: SynthesisJob) -> str:
    cloned = job.voice_kind == "cloned"
    try:
        # The rules of the door again: the operators may have switched the engine or cloning off, or the account
        # changed plan, while the job waited. Refused here it fails at once (and its characters are released).
        admit_job(
            engine=job.engine, cloned=cloned, plan_allows_cloning=cloned and plan_for(user=job.user).allows_cloning
        )
    except ApplicationError as refusal:
        synthesis_job_fail(job_id=job.id, code=refusal.code, message=refusal.message, attempt=job.attempts)
        return "failed"
    # An identical job (same cache key) in flight is waited for and its audio served: one synthesis for both.
    with synthesis_turn(job) as source:
        if source is not None:
            served = synthesis_job_serve_cached(job=job, source=source)
            if served != "gone":
                return served
        return _synthesize(job, cloned=cloned)


def _synthesize(job: SynthesisJob, *, cloned: bool) -> str:
    try:
        engine = engine_get(job.engine)
        prompt = voice_prompt_for(profile_id=job.engine_voice) if cloned else None
        started = time.perf_counter()
        # Jobs from before normalisation have no spoken text: they were always read as sent.
        segments = _segments(engine, job.spoken_text or job.text)
        pieces, total, done = [], len(segments), 0
        if total > 1:
            synthesis_job_progress(job=job, done=0, total=total)
        # (closing: whatever fails here, the segments still waiting in a batch scheduler are dropped at once)
        _db_release()
        with contextlib.closing(_synthesized(job, engine, segments, prompt)) as synthesized:
            for index, piece in synthesized:
                while done < index:  # every segment before this one has all its pieces
                    done += 1
                    synthesis_job_progress(job=job, done=done, total=total)
                    _db_release()
                pieces.append((index, piece))
                if job.streamed:
                    _stream_piece(job, piece)
        if total > 1:
            synthesis_job_progress(job=job, done=total, total=total)
        samples, rate, offsets = stitch_offsets(
            [piece for _, piece in pieces], crossfade_seconds=settings.TTS_CROSSFADE_MS / 1000
        )
        engine_seconds = time.perf_counter() - started
        if samples.size == 0:
            raise EngineError("the engine produced no audio for this text")
        # Seconds of the stitched audio; encoding below resamples (time is kept) and never trims.
        word_times = _word_times(job, engine, segments, pieces, offsets, samples, rate) if job.timestamps else None
        similarity = clone_similarity(profile_id=job.engine_voice, samples=samples, rate=rate) if cloned else None
        if job.watermark:
            # Marked before encoding, so every format carries it, and cache hits (keyed by the flag) reuse it. A
            # watermarker that cannot load raises here: the job fails rather than deliver unmarked audio.
            samples = watermark_apply(samples, rate)
        data = encode(samples, rate, job.output_format, target_rate=job.sample_rate, bitrate=job.bitrate)
    except TransientEngineError as exc:
        raise JobRetry(str(exc)) from exc
    except EngineError as exc:
        synthesis_job_fail(job_id=job.id, code=exc.code, message=str(exc), attempt=job.attempts)
        if exc.code == JobErrorCode.GPU_OUT_OF_MEMORY and _oom_first_in_batch(getattr(exc, "batch_key", None)):
            oom_record(detail=f"job {job.id}" + (f" in a batch of {job.batch_size}" if job.batch_size else ""))
        return "failed"
    except SynthesisTimeout:
        # The batch scheduler's wait ran out (thread pools enforce no Celery time limit): as a soft time limit does.
        synthesis_job_fail(
            job_id=job.id,
            code=JobErrorCode.TIMEOUT,
            message="Synthesis took longer than the time limit.",
            attempt=job.attempts,
        )
        return "timeout"

    name = audio_upload_to(job, "")
    # The name is the job's own, so an earlier attempt's file is replaced, never duplicated.
    if default_storage.exists(name):
        default_storage.delete(name)
    stored_name = default_storage.save(name, ContentFile(data))
    recorded = synthesis_job_succeed(
        job=job,
        audio_name=stored_name,
        audio_bytes=len(data),
        duration=len(samples) / rate,
        engine_seconds=engine_seconds,
        clone_similarity=similarity,
        spoken_word_times=word_times,
    )
    if not recorded:
        # Cancelled (or retaken) while we worked: drop the file unless a live row points to it.
        current = SynthesisJob.objects.filter(pk=job.pk).values_list("status", "audio").first()
        if current is None or current != (JobStatus.SUCCEEDED, stored_name):
            default_storage.delete(stored_name)
        return "discarded"
    logger.info("job %s succeeded in %.2fs engine time", job.id, engine_seconds)
    if intelligibility_due(job):  # scored by its own task: the audio is delivered already
        intelligibility_enqueue(job_id=job.id)
    return "succeeded"
