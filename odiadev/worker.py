"""Worker start-up, in one explicit order (imported by Celery in worker and beat processes only: `imports`).

1. In the main worker process, before any pool process exists: the watermark check, then the speech recogniser's
   check. A worker that may need the mark (it runs synthesis or provenance checks) refuses to start without PerTh:
   free-plan audio must never be delivered unmarked, and the one hint that the watermarker is missing is `perth`
   setting its class to None. A worker that validates voice recordings (the `voices.*` queue, `default`) refuses
   to start when the Whisper model's files are not the ones pinned (ASR_MODEL_DIR, ASR_MODEL_SHA256): a swapped
   model would change what consent recordings are heard to say. Only the files are checked here: the model loads
   in the pool processes, never before the fork.
2. In each pool process (in the main process for the solo and threads pools, which never fire
   `worker_process_init`): heartbeat (`ready: false`) -> engines (loaded, warmed up: Dia compiles its buckets
   within DIA_WARMUP_BUDGET_S; batch schedulers started) -> speaker encoder -> speech recogniser (validation
   workers only; model id, revision and load time in the heartbeat) -> VAD -> watermarker -> heartbeat
   `ready: true`. Models load once per process, before the first task (for the solo and threads pools the start
   runs in `worker_ready`, before the consumer's loop takes a message). A model that fails to warm is logged and
   loads on first use instead (a watermarker that cannot load fails each marked job).
3. At shutdown (after Celery has let the running tasks finish): the batch schedulers stop, then the engines'
   GPU threads.
"""

from __future__ import annotations

import logging
import os

from celery import current_app
from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_ready, worker_shutdown
from django.conf import settings

from core.heartbeat import heartbeat_ready, heartbeat_report, heartbeat_start
from core.recognition import recognizer_check, recognizer_queue, recognizer_warm

logger = logging.getLogger(__name__)


def _needs_watermark(queues: set[str]) -> bool:
    return bool(queues & {*settings.SPEECH_ENGINE_QUEUES.values(), settings.PROVENANCE_QUEUE})


def watermark_startup_check(*, queues: set[str]) -> None:
    """Exit the worker (SystemExit, which Celery's signal dispatch does not swallow) when PerTh cannot load."""
    if not _needs_watermark(queues):
        return
    from speech.watermark import WatermarkUnavailable, watermark_check

    try:
        watermark_check()
    except WatermarkUnavailable as exc:
        logger.critical("%s The worker will not start: free-plan audio must carry the watermark.", exc)
        raise SystemExit(f"{exc} The worker will not start: free-plan audio must carry the watermark.") from exc


def recognizer_startup_check(*, queues: set[str]) -> None:
    """Exit the worker (SystemExit) when it validates recordings and the speech recogniser's files fail their check."""
    if recognizer_queue() not in queues:
        return
    from speech.asr import AsrModelInvalid

    try:
        recognizer_check()
    except AsrModelInvalid as exc:
        message = f"{exc} The worker will not start: consent recordings must be heard by the pinned model."
        logger.critical(message)
        raise SystemExit(message) from exc


def consumed_queues() -> list[str]:
    """The queues this worker consumes (its -Q), as the worker's app knows them; WORKER_QUEUES if it cannot say."""
    consumed = sorted(getattr(current_app.amqp.queues, "consume_from", None) or [])
    return consumed or os.environ.get("WORKER_QUEUES", "synth,default").split(",")


def _warm(step: str, load) -> None:
    try:
        load()
    except Exception:
        logger.exception("%s warm start failed; it loads on first use", step)


def _engines() -> None:
    from synthesis.serving import engines_serving, engines_vram, engines_warm

    heartbeat_report("serving", engines_serving)  # (reported while warming up too: the compile mode so far)
    heartbeat_report("engines", engines_warm())
    heartbeat_report("vram", engines_vram)


def _encoder() -> None:
    from voices.runner import speaker_encoder

    encoder = speaker_encoder()
    heartbeat_report("encoder", {"name": encoder.name, "version": encoder.version})


def _recognizer() -> None:
    if recognizer_queue() not in consumed_queues():
        return
    info = recognizer_warm()
    heartbeat_report("asr", {key: info[key] for key in ("model_id", "revision", "load_seconds")})


def _vad() -> None:
    from speech.vad import warm

    warm()


def _watermarker() -> None:
    from speech.watermark import MODEL_RATE, watermarker

    watermarker()
    heartbeat_report("watermarker", {"name": "perth-implicit", "sample_rate": MODEL_RATE})


WARM_STEPS = (
    ("engines", _engines),
    ("speaker encoder", _encoder),
    ("speech recogniser", _recognizer),
    ("VAD", _vad),
    ("watermarker", _watermarker),
)


_started_in_pid: int | None = None


def worker_process_start() -> None:
    """Everything a worker process loads before its first task, in order; its heartbeat says `ready` after. Once per
    process (the solo pool fires both signals that call it)."""
    global _started_in_pid
    if _started_in_pid == os.getpid():
        return
    _started_in_pid = os.getpid()
    heartbeat_start(queues=consumed_queues())
    for step, load in WARM_STEPS:
        heartbeat_report("warming", step)
        _warm(step, load)
    heartbeat_ready()


def worker_process_stop() -> None:
    """Stop the batch schedulers and engine threads of this process (nothing to do where none started)."""
    from synthesis.serving import engines_shutdown

    try:
        engines_shutdown()
    except Exception:
        logger.exception("engines did not shut down cleanly")


@worker_init.connect(weak=False)
def _on_worker_init(sender=None, **_kwargs) -> None:
    try:
        queues = set(sender.app.amqp.queues.consume_from or [])
    except AttributeError:
        queues = set()
    # A worker started without -Q consumes every queue: it needs the mark and the recogniser.
    watermark_startup_check(queues=queues or set(settings.SPEECH_ENGINE_QUEUES.values()))
    recognizer_startup_check(queues=queues or {recognizer_queue()})


@worker_process_init.connect(weak=False)
def _on_worker_process_init(**_kwargs) -> None:
    worker_process_start()


@worker_ready.connect(weak=False)
def _on_worker_ready(sender=None, **_kwargs) -> None:
    # The solo and threads pools run tasks in the main process, where worker_process_init never fires.
    pool_module = type(getattr(sender, "pool", None)).__module__
    if pool_module in {"celery.concurrency.solo", "celery.concurrency.thread"}:
        worker_process_start()


@worker_shutdown.connect(weak=False)
def _on_worker_shutdown(**_kwargs) -> None:
    # After the pool has stopped (the running tasks finished): the solo and threads pools' engines live here.
    worker_process_stop()


@worker_process_shutdown.connect(weak=False)
def _on_worker_process_shutdown(**_kwargs) -> None:
    worker_process_stop()
