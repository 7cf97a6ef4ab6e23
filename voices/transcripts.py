"""The voice sample's transcript against what speech recognition heard in it: when the two disagree strongly the
owner is warned (Dia speaks the transcript before every cloned sentence, so a wrong one degrades the voice).

Plain reads: the rule lives here once, for the worker that verifies a sample and for the owner's correction.
"""

from __future__ import annotations

from django.conf import settings

from textnorm.words import word_error_rate

TRANSCRIPT_DISAGREES = "transcript_disagrees"


def transcript_warning_for(*, transcript: str, heard: str) -> dict | None:
    """A warning for the owner when `transcript` disagrees with what was `heard` in the sample (word error rate
    above VOICE_TRANSCRIPT_WARN_WER, measured against the transcript), else None. Nothing heard: no warning (a
    recogniser that hears nothing in a sample that passed the speech check knows less than the owner)."""
    if not heard.strip() or not transcript.strip():
        return None
    wer = word_error_rate(transcript, heard)
    if wer <= settings.VOICE_TRANSCRIPT_WARN_WER:
        return None
    return {
        "code": TRANSCRIPT_DISAGREES,
        "message": (
            f"The transcript does not match what we heard in your sample (about {min(wer, 1.0):.0%} of the words "
            "differ). The cloned voice speaks more naturally when the transcript is exactly what the sample says: "
            "check it and correct it if needed."
        ),
        "heard": heard,
        "wer": round(wer, 4),
    }
