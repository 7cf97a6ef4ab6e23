"""Worker side of provenance: decode an uploaded file and ask PerTh whether it carries our mark. Imports `speech/`."""

from __future__ import annotations

import base64
import logging

from django.conf import settings
from django_redis import get_redis_connection

from speech.audio_input import AudioRejected, decode
from speech.watermark import watermark_verdict

from .services import UPLOAD_GONE

logger = logging.getLogger(__name__)


def _upload_take(key: str) -> bytes | None:
    """The upload the web tier left under `key`, removed as it is read (None when it expired)."""
    with get_redis_connection("default").pipeline() as pipe:
        data, _ = pipe.get(key).delete(key).execute()
    return data


def audio_provenance_check(*, audio_key: str | None = None, audio_b64: str | None = None) -> dict:
    """Decode the upload (left under `audio_key` by provenance.services; `audio_b64` from a web tier of an earlier
    release) and judge whether it carries the mark; a JSON-ready report for the web tier that waits on it. The mark
    runs through the whole recording, so a long file is judged on its first PROVENANCE_MAX_SECONDS: only those are
    decoded (a small file can hold hours of audio), and `truncated` says there was more."""
    data = _upload_take(audio_key) if audio_key is not None else base64.b64decode(audio_b64 or "")
    if data is None:
        return {
            "ok": False,
            "code": UPLOAD_GONE,
            "message": "The upload expired before a worker took it.",
            "detail": {},
        }
    try:
        if len(data) > settings.PROVENANCE_UPLOAD_MAX_BYTES:
            raise AudioRejected(
                "audio_too_large",
                f"The file is larger than {settings.PROVENANCE_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
                max_bytes=settings.PROVENANCE_UPLOAD_MAX_BYTES,
            )
        decoded = decode(data, max_seconds=settings.PROVENANCE_MAX_SECONDS)
        if decoded.duration < settings.PROVENANCE_MIN_SECONDS:
            raise AudioRejected(
                "audio_too_short",
                f"The recording is {decoded.duration:.1f} s; "
                f"it must be at least {settings.PROVENANCE_MIN_SECONDS:g} s.",
                seconds=round(decoded.duration, 2),
                min_seconds=settings.PROVENANCE_MIN_SECONDS,
            )
    except AudioRejected as exc:
        return {"ok": False, "code": exc.code, "message": str(exc), "detail": exc.detail}
    verdict = watermark_verdict(
        decoded.samples,
        decoded.sample_rate,
        threshold=settings.PROVENANCE_VERDICT_THRESHOLD,
        min_speech_ratio=settings.PROVENANCE_MIN_SPEECH_RATIO,
    )
    return {
        "ok": True,
        **verdict.to_dict(),  # watermarked, confidence, speech_ratio, reason
        "seconds_analysed": round(decoded.duration, 2),
        "truncated": decoded.truncated,
    }
