"""Celery tasks for provenance; imported by workers only. The watermarker's start-up check is in odiadev.worker."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="provenance.verify", ignore_result=False, acks_late=True, time_limit=120)
def audio_provenance_check_task(*, audio_key: str | None = None, audio_b64: str | None = None) -> dict:
    from .runner import audio_provenance_check

    return audio_provenance_check(audio_key=audio_key, audio_b64=audio_b64)
