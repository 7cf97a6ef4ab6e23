"""Worker side of provenance: decode an uploaded file and ask PerTh whether it carries our mark. Imports `speech/`."""

from __future__ import annotations

import base64
import logging

from django.conf import settings

from speech.audio_input import AudioRejected, decode
from speech.watermark import watermark_verdict

logger = logging.getLogger(__name__)


def audio_provenance_check(*, audio_b64: str) -> dict:
    """Decode the upload and judge whether it carries the mark; a JSON-ready report for the web tier that waits on
    it. The mark runs through the whole recording, so a long file is judged on its first PROVENANCE_MAX_SECONDS:
    only those are decoded (a small file can hold hours of audio), and `truncated` says there was more."""
    data = base64.b64decode(audio_b64)
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
