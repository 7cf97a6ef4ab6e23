"""Provenance checks: does a file carry our watermark? The web tier hands the upload to a worker and waits.

The web tier never decodes audio: the bytes travel in the task message (they are not kept anywhere), a worker
decodes them and runs PerTh's detector, and this process waits for the answer like voice uploads do.
"""

from __future__ import annotations

import base64
import logging

from django.conf import settings

from controls.limits import LimitName, limit_value
from controls.ratelimit import Verdict, limits_for, ratelimit_hit
from core.clientip import client_ip
from core.exceptions import AudioInvalid, AudioTooLarge
from core.tasks import task_call

from .errors import VerificationUnavailable

logger = logging.getLogger(__name__)

VERIFY_TASK = "provenance.verify"


def provenance_rate_check(request, *, general: bool = True) -> Verdict:
    """The strict per-IP limit of verification (it costs a worker's time and is public), checked atomically with
    the general per-IP limit unless the caller's middleware counted that already; a refused request uses neither."""
    ip = client_ip(request)
    limits = limits_for(ip=ip, write=True) if general else {}
    if ip:
        limits[f"{settings.REDIS_KEY_PREFIX}:rl:provenance:{ip}"] = limit_value(
            LimitName.PROVENANCE_VERIFY_PER_IP_PER_MINUTE
        )
    return ratelimit_hit(limits)


def audio_provenance_verify(*, data: bytes) -> dict:
    """Whether `data` (any supported audio file) carries our watermark: the worker's verdict, `{"watermarked",
    "confidence", "speech_ratio", "reason", "seconds_analysed", "truncated"}` (provenance.runner).

    Raises AudioTooLarge / AudioInvalid (`audio_*` codes) for unusable files, VerificationUnavailable when no worker
    answers in time."""
    limit = settings.PROVENANCE_UPLOAD_MAX_BYTES
    if len(data) > limit:
        raise AudioTooLarge(f"The file is larger than {limit // (1024 * 1024)} MB.", detail={"max_bytes": limit})
    if not data:
        raise AudioInvalid("The file is empty.")
    report = task_call(
        VERIFY_TASK,
        kwargs={"audio_b64": base64.b64encode(data).decode("ascii")},
        timeout=settings.PROVENANCE_TIMEOUT,
        failure="provenance check did not complete",
        error=VerificationUnavailable,
        logger=logger,
    )
    if not report["ok"]:
        error = AudioTooLarge if report["code"] == "audio_too_large" else AudioInvalid
        raise error(report["message"], code=report["code"], detail=report["detail"])
    return {key: value for key, value in report.items() if key != "ok"}
