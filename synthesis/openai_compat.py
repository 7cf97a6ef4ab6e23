"""OpenAI's text-to-speech request (`POST /v1/audio/speech`) translated into ours, so the official `openai` package
works against this server with an ODIADEV API key.

- `voice`: one of our voice ids (a built-in voice or a cloned voice's id, also as `{"id": ...}`) is used as is;
  OpenAI's names (alloy, nova...) map through `OPENAI_VOICE_MAP`, and any other name to `OPENAI_DEFAULT_VOICE`.
- `response_format`: mp3, wav, flac and pcm (24 kHz, as OpenAI's) as they are; opus is Ogg Opus (our `ogg`);
  aac is refused (`invalid_format`).
- `model` is accepted and ignored (the voice decides the engine); `instructions` too. `speed` must be in our range.
- `stream_format: "sse"` is refused; the default (`audio`) answers the audio bytes.
"""

from __future__ import annotations

import uuid

from django.conf import settings

from .errors import InvalidFormat, InvalidStreamFormat

# OpenAI format -> (our format, sample rate or None for the voice's own).
FORMATS = {
    "mp3": ("mp3", None),
    "wav": ("wav", None),
    "flac": ("flac", None),
    "opus": ("ogg", None),
    "pcm": ("pcm", 24000),
}


def openai_voice_resolve(voice: str | dict | None, known_voice_ids) -> str:
    """Our voice id for OpenAI's `voice` (a string or `{"id": string}`; the API's serializer checks the shape)."""
    voice_id = voice.get("id", "") if isinstance(voice, dict) else (voice or "")
    if voice_id in known_voice_ids or _looks_like_uuid(voice_id):
        return voice_id
    return settings.OPENAI_VOICE_MAP.get(voice_id.lower(), settings.OPENAI_DEFAULT_VOICE)


def openai_request_translate(data: dict, *, known_voice_ids) -> dict:
    """Our synthesis_job_create keyword arguments for an OpenAI speech request (validated by the caller's
    serializer for types); raises our ApplicationErrors for what we cannot honour."""
    response_format = (data.get("response_format") or "mp3").lower()
    if response_format not in FORMATS:
        raise InvalidFormat(
            f"response_format {response_format!r} is not available here. Use one of: {', '.join(FORMATS)}.",
            detail={"supported": list(FORMATS)},
        )
    if data.get("stream_format") not in (None, "", "audio"):
        raise InvalidStreamFormat()
    output_format, sample_rate = FORMATS[response_format]
    return {
        "text": data["input"],
        "voice_id": openai_voice_resolve(data.get("voice"), known_voice_ids),
        "output_format": output_format,
        "sample_rate": sample_rate,
        "speed": float(data.get("speed") or 1.0),
    }


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
