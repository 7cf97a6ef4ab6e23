"""Worker side of voice cloning: checks uploaded recordings and verifies the speaker. Imports `speech/`."""

from __future__ import annotations

import functools
import logging
import threading

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.module_loading import import_string

from speech.audio import resample
from speech.audio_input import AudioLimits, AudioRejected, validate
from speech.encoders.base import SpeakerEncoder, cosine
from speech.errors import EngineError
from speech.vad import speech_ratio

from .models import VoiceProfile, VoiceStatus
from .services import voice_profile_decide, voice_profile_reject

logger = logging.getLogger(__name__)


class VoiceUnavailable(EngineError):
    code = "voice_not_found"


_encoder: SpeakerEncoder | None = None
_encoder_lock = threading.Lock()


def speaker_encoder() -> SpeakerEncoder:
    """The process-wide speaker encoder chosen by SPEAKER_ENCODER, loaded on first use (or at worker start)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            name = settings.SPEAKER_ENCODER
            cls = import_string(settings.SPEAKER_ENCODERS[name])
            encoder = cls(source=settings.SPEAKER_ENCODER_SOURCE) if name == "ecapa" else cls()
            encoder.load()
            _encoder = encoder
        return _encoder


def _limits(kind: str) -> AudioLimits:
    low, high = settings.VOICE_CONSENT_SECONDS if kind == "consent" else settings.VOICE_SAMPLE_SECONDS
    return AudioLimits(
        min_seconds=low,
        max_seconds=high,
        max_bytes=settings.VOICE_UPLOAD_MAX_BYTES,
        min_speech_ratio=settings.VOICE_MIN_SPEECH_RATIO,
    )


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as f:
        return f.read()


def recordings_check(*, consent_name: str, sample_name: str) -> dict:
    """Validate both stored recordings; a JSON-ready report for the web tier that waits on it."""
    report: dict = {"ok": True}
    for field, name, kind in (("consent_audio", consent_name, "consent"), ("sample", sample_name, "sample")):
        try:
            decoded, measured = validate(_read(name), _limits(kind), speech_ratio)
        except AudioRejected as exc:
            return {"ok": False, "field": field, "code": exc.code, "message": str(exc), "detail": exc.detail}
        report[kind] = {
            "duration": decoded.duration,
            "container": decoded.container,
            "speech_ratio": measured.speech_ratio,
            "rms_dbfs": measured.rms_dbfs,
        }
    return report


def _embedding_of(name: str) -> list[float]:
    from speech.audio_input import decode

    encoder = speaker_encoder()
    decoded = decode(_read(name))
    return encoder.embed(resample(decoded.samples, decoded.sample_rate, encoder.sample_rate)).tolist()


def voice_profile_verify(*, profile_id) -> str:
    """Compare the consent speaker with the sample speaker and record the decision. Idempotent."""
    profile = VoiceProfile.objects.select_related("consent").filter(pk=profile_id).first()
    if profile is None or profile.status != VoiceStatus.VERIFYING:
        return "skipped"
    encoder = speaker_encoder()
    try:
        consent_embedding = _embedding_of(profile.consent.consent_audio.name)
        sample_embedding = _embedding_of(profile.sample.name)
    except AudioRejected as exc:
        voice_profile_reject(profile_id=profile.id, code=exc.code, message=str(exc))
        return "rejected"
    score = cosine(consent_embedding, sample_embedding)
    threshold = settings.SPEAKER_MATCH_THRESHOLDS[encoder.name]
    decided = voice_profile_decide(
        profile_id=profile.id,
        score=score,
        threshold=threshold,
        encoder=encoder.name,
        encoder_version=encoder.version,
        embedding=sample_embedding,
    )
    if decided is None:
        return "skipped"
    logger.info("voice %s %s: speaker score %.3f (threshold %.2f)", profile.id, decided.status, score, threshold)
    return decided.status


def _dia_transcript(transcript: str) -> str:
    transcript = transcript.strip()
    return transcript if transcript.startswith(("[S1]", "[S2]")) else f"[S1] {transcript}"


@functools.lru_cache(maxsize=32)
def _prompt(profile_id: str, version: int, sample_name: str, transcript: str):
    from speech.audio_input import decode
    from speech.engines.base import VoicePrompt
    from speech.engines.dia import SAMPLE_RATE

    decoded = decode(_read(sample_name))
    return VoicePrompt(audio=resample(decoded.samples, decoded.sample_rate, SAMPLE_RATE), transcript=transcript)


def voice_prompt_for(*, profile_id):
    """The audio prompt (sample at 44.1 kHz + its transcript) that makes the cloning engine speak as the voice."""
    profile = VoiceProfile.objects.filter(pk=profile_id, status=VoiceStatus.ACTIVE).first()
    if profile is None:
        raise VoiceUnavailable("The cloned voice no longer exists or is not active.")
    return _prompt(str(profile.id), profile.version, profile.sample.name, _dia_transcript(profile.sample_transcript))


def clone_similarity(*, profile_id, samples, rate: int) -> float | None:
    """How close synthesized audio sounds to the voice profile (cosine of speaker embeddings)."""
    embedding = VoiceProfile.objects.filter(pk=profile_id).values_list("embedding", flat=True).first()
    if not embedding:
        return None
    encoder = speaker_encoder()
    return cosine(encoder.embed(resample(samples, rate, encoder.sample_rate)), embedding)
