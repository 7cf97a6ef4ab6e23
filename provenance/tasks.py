"""Celery tasks for provenance, and the watermarker's start-up check; imported by workers only.

A worker that may need the mark (it runs synthesis, or provenance checks) refuses to start without PerTh: free-plan
audio must never be delivered unmarked, and the one hint that the watermarker is missing is `perth` setting its
class to None without a word.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from django.conf import settings

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


@worker_init.connect(weak=False)
def _check_watermarker(sender=None, **_kwargs) -> None:
    """In the main worker process, before any pool process starts; cheap (imports, runs no model)."""
    try:
        queues = set(sender.app.amqp.queues.consume_from or [])
    except AttributeError:
        queues = set()
    # A worker started without -Q consumes every queue: it needs the mark.
    watermark_startup_check(queues=queues or set(settings.SPEECH_ENGINE_QUEUES.values()))


@worker_process_init.connect(weak=False)
def _warm_watermarker(**_kwargs) -> None:
    """Load PerTh once per worker process (logs "PerTh watermarker loaded"), like the engines."""
    from core.heartbeat import heartbeat_report
    from speech.watermark import MODEL_RATE, watermarker

    try:
        watermarker()
        heartbeat_report("watermarker", {"name": "perth-implicit", "sample_rate": MODEL_RATE})
    except Exception:
        # The start-up check passed, so this is unexpected; watermark_apply raises again for each marked job, which
        # fails the job rather than deliver it unmarked.
        logger.exception("PerTh watermarker failed to load")


@shared_task(name="provenance.verify", ignore_result=False, acks_late=True, time_limit=120)
def audio_provenance_check_task(*, audio_b64: str) -> dict:
    from .runner import audio_provenance_check

    return audio_provenance_check(audio_b64=audio_b64)
