"""Worker side of voice cloning: checks uploaded recordings, runs the consent gate (what was said in the consent
recording, and by whom) and transcribes samples. Imports `speech/`."""

from __future__ import annotations

import functools
import logging
import threading

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.module_loading import import_string

from core.recognition import speech_transcribe, speech_word_probabilities
from speech.audio import resample
from speech.audio_input import AudioLimits, AudioRejected, decode, validate
from speech.consent import ConsentThresholds, consent_decide
from speech.encoders.base import SpeakerEncoder, cosine
from speech.errors import EngineError
from speech.vad import speech_ratio
from textnorm.words import words_of

from .models import ConsentDecision, VoiceProfile, VoiceStatus
from .verification import Verdict, voice_profile_decide, voice_profile_reject

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


def _decoded(name: str):
    return decode(_read(name))


def _embedding(encoder: SpeakerEncoder, decoded) -> list[float]:
    return encoder.embed(resample(decoded.samples, decoded.sample_rate, encoder.sample_rate)).tolist()


def _heard_text(text: str) -> str:
    return text.strip().strip(".,!?;:\"'()")


def _phrase_words(decision) -> list[dict]:
    """The one-time phrase word by word as the owner is shown it: what was heard for each, or None.

    Phrases are drawn without repeated words (voices.consent), so each match belongs to one word of the phrase."""
    heard = {match.expected: match for match in decision.phrase_match.matched}
    # Match positions are in the listen that heard the phrase: the first, or the second listen to the end.
    words = decision.relistened.words if decision.phrase_from_relisten else decision.transcript.words
    shown = []
    for word in words_of(decision.phrase):
        match = heard.get(word)
        if match is None:
            shown.append({"word": word, "heard": None, "ok": False})
        elif match.listened is not None:
            # Not written by the recogniser but found when listened for (speech.consent): what was written there.
            shown.append({"word": word, "heard": match.heard or None, "ok": True, "listened": True})
        else:
            text = match.heard if " " in match.heard else _heard_text(words[match.index].text)
            shown.append({"word": word, "heard": text, "ok": True})
    return shown


def _thresholds(encoder_name: str) -> ConsentThresholds:
    return ConsentThresholds(
        phrase=settings.CONSENT_PHRASE_THRESHOLD,
        statement=settings.CONSENT_STATEMENT_THRESHOLD,
        speaker=settings.SPEAKER_MATCH_THRESHOLDS[encoder_name],
        review_margin=settings.CONSENT_REVIEW_MARGIN,
        listened=settings.CONSENT_LISTEN_THRESHOLD,
    )


def _verdict(decision, *, encoder: SpeakerEncoder, embedding: list[float], sample_heard: str) -> Verdict:
    transcript = decision.transcript
    return Verdict(
        outcome=decision.outcome,
        code=decision.code,
        message=decision.message,
        score=decision.speaker_similarity,
        threshold=decision.speaker_threshold,
        encoder=encoder.name,
        encoder_version=encoder.version,
        embedding=embedding,
        recording="consent",
        transcript=transcript.text.strip(),
        phrase_score=decision.phrase_score,
        phrase_threshold=decision.phrase_threshold,
        statement_share=decision.statement_share,
        statement_threshold=decision.statement_threshold,
        review_margin=decision.review_margin,
        asr_model_id=transcript.model_id,
        asr_model_revision=transcript.model_revision,
        audit={**decision.audit(), "recording": "consent", "phrase_words": _phrase_words(decision)},
        sample_heard=sample_heard,
    )


def voice_profile_verify(*, profile_id) -> str:
    """The consent gate: hear the consent recording (statement and one-time phrase), compare its speaker with the
    sample's, transcribe the sample, and record the verdict. Idempotent: a profile already decided is skipped."""
    profile = VoiceProfile.objects.select_related("consent").filter(pk=profile_id).first()
    if profile is None or profile.status != VoiceStatus.VERIFYING or profile.consent.decision == ConsentDecision.REVIEW:
        return "skipped"
    encoder = speaker_encoder()
    recordings = {}
    for recording, name in (("consent", profile.consent.consent_audio.name), ("sample", profile.sample.name)):
        try:
            recordings[recording] = _decoded(name)
        except AudioRejected as exc:
            voice_profile_reject(profile_id=profile.id, code=exc.code, message=str(exc), recording=recording)
            return "rejected"
    consent, sample = recordings["consent"], recordings["sample"]
    sample_embedding = _embedding(encoder, sample)
    similarity = cosine(_embedding(encoder, consent), sample_embedding)
    heard = speech_transcribe(consent.samples, consent.sample_rate)

    def relisten(start: float):
        return speech_transcribe(consent.samples[int(start * consent.sample_rate) :], consent.sample_rate)

    def listen_for(start: float, candidates):
        tail = consent.samples[int(start * consent.sample_rate) :]
        return speech_word_probabilities(tail, consent.sample_rate, candidates)

    decision = consent_decide(
        phrase=profile.consent.nonce,
        statement=profile.consent.statement,
        transcript=heard,
        speaker_similarity=similarity,
        thresholds=_thresholds(encoder.name),
        relisten=relisten,
        listen_for=listen_for,
    )
    # The sample is transcribed whatever the owner typed: theirs is checked against it (a transcript warning).
    sample_heard = speech_transcribe(sample.samples, sample.sample_rate).text if decision.outcome != "rejected" else ""
    verdict = _verdict(decision, encoder=encoder, embedding=sample_embedding, sample_heard=sample_heard)
    decided = voice_profile_decide(profile_id=profile.id, verdict=verdict)
    if decided is None:
        return "skipped"
    logger.info(
        "voice %s %s (consent %s %s): statement %.2f, phrase %.2f, speaker %.3f (threshold %.2f)",
        profile.id,
        decided.status,
        decision.outcome,
        decision.code or "",
        decision.statement_share,
        decision.phrase_score,
        similarity,
        decision.speaker_threshold,
    )
    return decision.outcome if decision.outcome == "review" else decided.status


def _dia_transcript(transcript: str) -> str:
    transcript = transcript.strip()
    return transcript if transcript.startswith(("[S1]", "[S2]")) else f"[S1] {transcript}"


@functools.lru_cache(maxsize=32)
def _prompt(profile_id: str, version: int, sample_name: str, transcript: str):
    from speech.engines.base import VoicePrompt
    from speech.engines.dia import SAMPLE_RATE

    decoded = _decoded(sample_name)
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
