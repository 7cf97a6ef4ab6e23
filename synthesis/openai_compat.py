"""OpenAI's text-to-speech request (`POST /v1/audio/speech`) translated into ours, so the official `openai` package
works against this server with an ODIADEV API key; and our answers and errors translated back into OpenAI's terms.

- `voice`: one of our voice ids (a built-in voice or a cloned voice's id, also as `{"id": ...}`) is used as is;
  OpenAI's names (alloy, nova...) map through `OPENAI_VOICE_MAP`, and any other name to `OPENAI_DEFAULT_VOICE`.
- `response_format`: mp3, wav, flac and pcm (24 kHz, as OpenAI's) as they are; opus is Ogg Opus (our `ogg`);
  aac is refused (`invalid_format`). mp3, opus and pcm stream (audio from the first sentence on); wav and flac
  cannot (their headers need the whole length), so they are answered once the job is done.
- `model` is accepted and ignored (the voice decides the engine); `instructions` too. `speed` must be in our range.
- `stream_format`: `audio` (the default) answers the audio bytes; `sse` answers server-sent events in OpenAI's
  shapes (`speech.audio.delta` with base64 audio, then `speech.audio.done` with the usage).
- Errors keep our codes and body; for this endpoint they name OpenAI's fields (`input`, not `text`): the message,
  the `detail` keys, and `param` (which OpenAI's clients expose as the error's `param`).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator

from django.conf import settings

from core.exceptions import ApplicationError

from .errors import InvalidFormat, InvalidStreamFormat, SynthesisFailed, SynthesisTimeout
from .models import JobStatus
from .streaming import STREAM_PIECE_BYTES, STREAMABLE_FORMATS, StreamEnd, stream_entries

# OpenAI format -> (our format, sample rate or None for the voice's own).
FORMATS = {
    "mp3": ("mp3", None),
    "wav": ("wav", None),
    "flac": ("flac", None),
    "opus": ("ogg", None),
    "pcm": ("pcm", 24000),
}
STREAM_FORMATS = ("audio", "sse")
SSE_CONTENT_TYPE = "text/event-stream"


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
    openai_stream_format(data)
    output_format, sample_rate = FORMATS[response_format]
    return {
        "text": data["input"],
        "voice_id": openai_voice_resolve(data.get("voice"), known_voice_ids),
        "output_format": output_format,
        "sample_rate": sample_rate,
        "speed": float(data.get("speed") or 1.0),
    }


def openai_stream_format(data: dict) -> str:
    """`audio` or `sse` (OpenAI's `stream_format`; absent or blank: `audio`)."""
    stream_format = data.get("stream_format") or "audio"
    if stream_format not in STREAM_FORMATS:
        raise InvalidStreamFormat(detail={"stream_format": stream_format, "supported": list(STREAM_FORMATS)})
    return stream_format


def openai_format_streams(output_format: str) -> bool:
    """Whether audio in our `output_format` can go out while the job runs (mp3, ogg/opus, pcm: yes)."""
    return output_format in STREAMABLE_FORMATS


# ---------------------------------------------------------------------------------------------------------------
# Server-sent events, in OpenAI's shapes (`stream_format: "sse"`)
# ---------------------------------------------------------------------------------------------------------------
def _sse(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def sse_audio_delta(audio: bytes) -> bytes:
    """`speech.audio.delta`: a piece of the audio, base64, in the request's `response_format`."""
    return _sse({"type": "speech.audio.delta", "audio": base64.b64encode(audio).decode("ascii")})


def sse_audio_done(*, characters: int) -> bytes:
    """`speech.audio.done`: the audio is complete. We meter characters, not tokens: `input_tokens` is the
    characters counted from `input` (what the plan's limits and billing count), `output_tokens` is 0."""
    usage = {"input_tokens": characters, "output_tokens": 0, "total_tokens": characters}
    return _sse({"type": "speech.audio.done", "usage": usage})


def sse_error(error: ApplicationError) -> bytes:
    """An `error` event: the job failed (or went quiet) after the stream began; no `speech.audio.done` follows."""
    body = {"code": error.code, "message": error.message, "detail": error.detail}
    return _sse({"type": "error", "error": body})


def openai_sse_stored(audio: bytes, *, characters: int) -> bytes:
    """The events for a finished job's whole audio (a cache hit, a replay, a format that cannot stream)."""
    pieces = [audio[at : at + STREAM_PIECE_BYTES] for at in range(0, len(audio), STREAM_PIECE_BYTES)]
    return b"".join(sse_audio_delta(piece) for piece in pieces) + sse_audio_done(characters=characters)


async def openai_sse_relay(*, job_id, characters: int, timeout: float) -> AsyncIterator[bytes]:
    """The events for a job's audio while it is made: a delta per piece of its stream, then `speech.audio.done`
    when the job succeeded, or an `error` event when it failed, went back for a retry or went quiet for
    `timeout` seconds (the events so far are all the audio this answer will carry)."""
    async for entry in stream_entries(job_id=job_id, timeout=timeout):
        if not isinstance(entry, StreamEnd):
            yield sse_audio_delta(entry)
        elif entry.status == JobStatus.SUCCEEDED:
            yield sse_audio_done(characters=characters)
            return
        elif entry.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            message = f"The job stopped part-way through its audio ({entry.status}); GET /v1/tts/{{id}} says why."
            yield sse_error(SynthesisFailed(message, detail={"job_id": str(job_id), "status": entry.status}))
            return
        else:
            break
    yield sse_error(SynthesisTimeout(detail={"job_id": str(job_id)}))


# ---------------------------------------------------------------------------------------------------------------
# Errors named in OpenAI's fields
# ---------------------------------------------------------------------------------------------------------------
# Our field (in messages and `detail`) -> OpenAI's.
_FIELDS = {"text": "input", "voice_id": "voice", "format": "response_format"}
# Which OpenAI field an error code is about, where its detail does not say.
_PARAMS = {
    "text_empty": "input",
    "text_too_long": "input",
    "spoken_text_too_long": "input",
    "invalid_format": "response_format",
    "format_not_streamable": "response_format",
    "plan_forbids_format": "response_format",
    "invalid_speed": "speed",
    "voice_not_found": "voice",
    "cloning_engine_unavailable": "voice",
    "invalid_stream_format": "stream_format",
}
_REQUEST_FIELDS = ("input", "voice", "response_format", "speed", "stream_format", "model", "instructions")
# Our format names -> OpenAI's (ulaw has none).
_OPENAI_FORMATS = {ours: name for name, (ours, _rate) in FORMATS.items()}


def openai_error_translate(error: ApplicationError) -> ApplicationError:
    """`error` as the OpenAI endpoint reports it: same code and status, OpenAI's field names in its message and
    detail, and `param` set to the field at fault (when one is)."""
    detail = error.detail
    if isinstance(detail, dict):
        detail = {_FIELDS.get(key, key): value for key, value in detail.items()}
        if error.code == "plan_forbids_format":
            ours = detail.get("response_format")
            detail["response_format"] = _OPENAI_FORMATS.get(ours, ours)
            detail["allowed"] = [_OPENAI_FORMATS[f] for f in detail.get("allowed", []) if f in _OPENAI_FORMATS]
    param = _PARAMS.get(error.code)
    if param is None and isinstance(detail, dict):
        param = next((key for key in detail if key in _REQUEST_FIELDS), None)
    translated = ApplicationError(_message(error, detail), code=error.code, detail=detail)
    translated.status_code = error.status_code
    translated.retry_after = error.retry_after
    translated.param = param
    return translated


def _message(error: ApplicationError, detail) -> str:
    if error.code == "text_empty":
        return "`input` is empty: send the text to speak."
    if error.code == "plan_forbids_format" and isinstance(detail, dict):
        return (
            f"response_format {detail['response_format']!r} needs a higher plan; yours delivers "
            f"{', '.join(detail['allowed'])} (Billing page)."
        )
    message = re.sub(r"^Text\b", "`input`", error.message)
    for ours, theirs in _FIELDS.items():
        message = message.replace(f"`{ours}`", f"`{theirs}`")
    return message


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
