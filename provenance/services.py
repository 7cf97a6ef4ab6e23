"""Provenance checks: does a file carry our watermark? The web tier hands the upload to a worker and waits.

The web tier never decodes audio: the bytes go to a worker through a Redis key that lives as long as the check
may wait (they are not stored anywhere else), the worker takes them, decodes them and runs PerTh's detector, and
this process waits for the answer like voice uploads do. Not in the task message: a worker's main process copies
a message several times before its pool process gets it (a 7 MB file in base64 grew the main process's peak by
76 MB), where the key is read once, by the process that decodes it.
"""

from __future__ import annotations

import contextlib
import logging
import uuid

from django.conf import settings
from django_redis import get_redis_connection

from controls.limits import LimitName, limit_value
from controls.ratelimit import Verdict, limits_for, ratelimit_hit
from core.clientip import client_ip
from core.exceptions import AudioInvalid, AudioTooLarge
from core.tasks import task_call

from .errors import VerificationUnavailable

logger = logging.getLogger(__name__)

VERIFY_TASK = "provenance.verify"
# The worker found no upload under the key (it expired before a worker took the task).
UPLOAD_GONE = "upload_gone"


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
    upload_key = f"{settings.REDIS_KEY_PREFIX}:provenance:upload:{uuid.uuid4().hex}"
    redis = get_redis_connection("default")
    try:
        redis.set(upload_key, data, ex=int(settings.PROVENANCE_TIMEOUT) + 60)
    except Exception as exc:
        logger.exception("provenance upload could not be handed to a worker")
        raise VerificationUnavailable() from exc
    try:
        report = task_call(
            VERIFY_TASK,
            kwargs={"audio_key": upload_key},
            timeout=settings.PROVENANCE_TIMEOUT,
            failure="provenance check did not complete",
            error=VerificationUnavailable,
            logger=logger,
        )
    finally:
        with contextlib.suppress(Exception):  # (it expires anyway)
            redis.delete(upload_key)  # taken already, unless no worker got to it in time
    if not report["ok"] and report["code"] == UPLOAD_GONE:
        raise VerificationUnavailable()
    if not report["ok"]:
        error = AudioTooLarge if report["code"] == "audio_too_large" else AudioInvalid
        raise error(report["message"], code=report["code"], detail=report["detail"])
    return {key: value for key, value in report.items() if key != "ok"}
