"""Worker side of synthesis: loads the engines once per process and turns a claimed job into stored audio.

Only worker processes import this module (through tasks); it is the one place where the Django apps meet
`speech/`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.module_loading import import_string

from billing.selectors import plan_for
from controls.admission import admit_job
from controls.breaker import oom_record
from core.exceptions import ApplicationError
from speech.audio import OggOpusStream, encode, mp3_stream_piece, stitch
from speech.engines.base import Engine, GpuEngine, SynthesisRequest
from speech.errors import EngineError, TransientEngineError
from speech.watermark import watermark_apply
from voices.runner import clone_similarity, voice_prompt_for

from .errors import JobErrorCode
from .models import JobStatus, SynthesisJob, audio_upload_to
from .streaming import stream_finish, stream_publish
from .transitions import synthesis_job_claim, synthesis_job_fail, synthesis_job_progress, synthesis_job_succeed

logger = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_get(name: str) -> Engine:
    """The process-wide instance of engine `name`, loaded on first use."""
    with _engines_lock:
        if name not in _engines:
            engine = import_string(settings.SPEECH_ENGINES[name])(**settings.SPEECH_ENGINE_OPTIONS.get(name, {}))
            engine.load()
            _engines[name] = engine
        return _engines[name]


def engines_warm() -> list[dict]:
    """Load the engines this worker serves (at process start, so the first job does not pay for it)."""
    loaded = []
    for name in settings.SPEECH_WARM_ENGINES:
        engine = engine_get(name)
        loaded.append({"name": name, "model_id": engine.model_id, "model_revision": engine.model_revision})
    return loaded


def engines_vram() -> dict:
    """VRAM held by the loaded GPU engines against their budget, for the heartbeat (/health, /metrics)."""
    with _engines_lock:
        gpu_engines = {name: engine for name, engine in _engines.items() if isinstance(engine, GpuEngine)}
    return {name: engine.vram() for name, engine in gpu_engines.items()}


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
        stream_publish(job_id=job.id, data=data)


def _stream_close(job: SynthesisJob) -> None:
    ogg = _ogg_streams.pop(job.id, None)
    if ogg is not None:
        tail = ogg.close()
        if tail:
            stream_publish(job_id=job.id, data=tail)


def _segments(engine: Engine, text: str) -> list[str]:
    """A long text in the engine's own segments (Dia: dialogue-aware, its generation length) or, for the others,
    paragraph- and sentence-bounded pieces of at most TTS_SEGMENT_CHARS: each is one unit of progress."""
    return engine.segments(text, max_chars=settings.TTS_SEGMENT_CHARS) or [text]


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


def _run(job: SynthesisJob) -> str:
    cloned = job.voice_kind == "cloned"
    try:
        # The rules of the door again: the operators may have switched the engine or cloning off, or the account
        # changed plan, while the job waited. Refused here it fails at once (and its characters are released).
        admit_job(
            engine=job.engine, cloned=cloned, plan_allows_cloning=cloned and plan_for(user=job.user).allows_cloning
        )
    except ApplicationError as refusal:
        synthesis_job_fail(job_id=job.id, code=refusal.code, message=refusal.message)
        return "failed"
    try:
        engine = engine_get(job.engine)
        prompt = voice_prompt_for(profile_id=job.engine_voice) if cloned else None
        started = time.perf_counter()
        # Jobs from before normalisation have no spoken text: they were always read as sent.
        segments = _segments(engine, job.spoken_text or job.text)
        pieces, total = [], len(segments)
        if total > 1:
            synthesis_job_progress(job=job, done=0, total=total)
        for done, segment in enumerate(segments, start=1):
            # Each segment with the same voice, prompt and seed: a long text keeps one voice throughout.
            request = SynthesisRequest(
                text=segment, voice=job.engine_voice, speed=job.speed, seed=job.seed, prompt=prompt
            )
            for piece in engine.synthesize(request):
                pieces.append(piece)
                if job.streamed:
                    _stream_piece(job, piece)
            if total > 1:
                synthesis_job_progress(job=job, done=done, total=total)
        samples, rate = stitch(pieces, crossfade_seconds=settings.TTS_CROSSFADE_MS / 1000)
        engine_seconds = time.perf_counter() - started
        if samples.size == 0:
            raise EngineError("the engine produced no audio for this text")
        similarity = clone_similarity(profile_id=job.engine_voice, samples=samples, rate=rate) if cloned else None
        if job.watermark:
            # Marked before encoding, so every format carries it, and cache hits (keyed by the flag) reuse it. A
            # watermarker that cannot load raises here: the job fails rather than deliver unmarked audio.
            samples = watermark_apply(samples, rate)
        data = encode(samples, rate, job.output_format, target_rate=job.sample_rate, bitrate=job.bitrate)
    except TransientEngineError as exc:
        raise JobRetry(str(exc)) from exc
    except EngineError as exc:
        synthesis_job_fail(job_id=job.id, code=exc.code, message=str(exc))
        if exc.code == JobErrorCode.GPU_OUT_OF_MEMORY:
            oom_record(detail=f"job {job.id}")
        return "failed"

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
    )
    if not recorded:
        # Cancelled (or retaken) while we worked: drop the file unless a live row points to it.
        current = SynthesisJob.objects.filter(pk=job.pk).values_list("status", "audio").first()
        if current is None or current != (JobStatus.SUCCEEDED, stored_name):
            default_storage.delete(stored_name)
        return "discarded"
    logger.info("job %s succeeded in %.2fs engine time", job.id, engine_seconds)
    return "succeeded"
