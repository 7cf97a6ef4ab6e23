"""The platform's speech recogniser (speech.asr) as the settings configure it: one place for the apps that hear
audio on workers (consent recordings, voice samples, intelligibility of outputs). Worker-side only: loads the
model on first use (or at worker start, odiadev.worker)."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def _options() -> dict[str, Any]:
    return {
        "model_dir": settings.ASR_MODEL_DIR or None,
        "model_id": settings.ASR_MODEL_ID or None,
        "expected_sha256": settings.ASR_MODEL_SHA256 or None,
        "cpu_threads": settings.ASR_CPU_THREADS,
    }


def recognizer_queue() -> str:
    """The queue of the voices tasks (recordings validated and heard): the workers that consume it load the model."""
    return (settings.CELERY_TASK_ROUTES.get("voices.*") or {}).get("queue", settings.CELERY_TASK_DEFAULT_QUEUE)


def recognizer_check() -> str:
    """Check the configured model's files without loading it (raises speech.asr.AsrModelInvalid); its digest."""
    from speech import asr  # lazy: faster-whisper is a worker dependency, never loaded by the web tier

    return asr.model_check(settings.ASR_MODEL_DIR or None, expected_sha256=settings.ASR_MODEL_SHA256 or None)


def recognizer_warm() -> dict[str, Any]:
    """Load and check the configured model now; its description (model id, revision, load time)."""
    from speech import asr  # lazy: faster-whisper is a worker dependency, never loaded by the web tier

    return asr.warm(**_options()).to_dict()


def speech_transcribe(samples, sample_rate: int):
    """What is said in `samples` (mono float32), with word timings: a speech.asr.Transcript."""
    from speech import asr  # lazy: faster-whisper is a worker dependency, never loaded by the web tier

    return asr.recognizer(**_options()).transcribe(samples, sample_rate)


def speech_word_probabilities(samples, sample_rate: int, candidates) -> list[float]:
    """How likely the recogniser finds each expected word at its place in `samples`: speech.asr's
    Recognizer.word_probabilities, for the consent check's listening for a phrase word (speech.consent)."""
    from speech import asr  # lazy: faster-whisper is a worker dependency, never loaded by the web tier

    return asr.recognizer(**_options()).word_probabilities(samples, sample_rate, candidates)
