"""Worker side of provenance: decode an uploaded file and ask PerTh whether it carries our mark. Imports `speech/`."""

from __future__ import annotations

import base64
import logging

from django.conf import settings

from speech.audio_input import AudioRejected, decode
from speech.watermark import DETECTION_THRESHOLD, watermark_detect

logger = logging.getLogger(__name__)


def audio_provenance_check(*, audio_b64: str) -> dict:
    """Decode the upload and detect the mark; a JSON-ready report for the web tier that waits on it."""
    data = base64.b64decode(audio_b64)
    try:
        if len(data) > settings.PROVENANCE_UPLOAD_MAX_BYTES:
            raise AudioRejected(
                "audio_too_large",
                f"The file is larger than {settings.PROVENANCE_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
                max_bytes=settings.PROVENANCE_UPLOAD_MAX_BYTES,
            )
        decoded = decode(data)
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
    # The mark runs through the whole recording: the start of a long file answers as well as all of it.
    limit = int(settings.PROVENANCE_MAX_SECONDS * decoded.sample_rate)
    samples = decoded.samples[:limit]
    confidence = watermark_detect(samples, decoded.sample_rate)
    return {
        "ok": True,
        "watermarked": confidence >= DETECTION_THRESHOLD,
        "confidence": round(confidence, 4),
        "seconds_analysed": round(len(samples) / decoded.sample_rate, 2),
    }
