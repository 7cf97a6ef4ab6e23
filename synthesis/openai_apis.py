"""POST /v1/audio/speech: OpenAI's text-to-speech request and answer, for the `openai` package and other OpenAI
clients (the translation itself, the events and the errors' names are in `openai_compat`).

A streamable format (mp3, opus, pcm) is answered as soon as the job's first piece of audio exists, and relayed
while the rest is made (`streaming`); the request waits for that first piece the way `"wait": true` waits for a
job (core.deferred), so anything that goes wrong before it is still an ordinary JSON error. wav and flac are
answered once the job is done, as before."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.views import APIView

from accounts.models import ApiKey
from core.api import AudioResponseMixin, validated_body
from core.deferred import deferred_api_response
from core.exceptions import ApplicationError, InvalidRequest
from core.fields import StrictCharField
from core.http import FileResponse
from core.schema import error_statuses

from .apis import IDEMPOTENCY_PARAMETER, replayed_mark
from .errors import AudioExpired, InvalidSpeed, SynthesisFailed, SynthesisTimeout, TextEmpty
from .filenames import job_audio_filename
from .formats import OUTPUT_FORMATS
from .idempotency import idempotent_request_from
from .models import JobStatus, SynthesisJob
from .openai_compat import (
    SSE_CONTENT_TYPE,
    openai_error_translate,
    openai_format_streams,
    openai_request_translate,
    openai_sse_relay,
    openai_sse_stored,
    openai_stream_format,
)
from .services import SPEED_MAX, SPEED_MIN, synthesis_job_submit
from .streaming import stream_relay
from .waiting import job_audio_start_wait, job_final_wait

VOICE_ID_MAX_LENGTH = 100


def _input_error(*, detail) -> ApplicationError:
    """`input` missing, null or blank is `text_empty` (as `text` is on /v1/tts); of another type, the request is
    invalid."""
    if detail.get("input") == ["Not a valid string."]:
        return InvalidRequest("`input` must be a string.", detail=detail)
    return TextEmpty(detail=detail)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": VOICE_ID_MAX_LENGTH},
            {
                "type": "object",
                "properties": {"id": {"type": "string", "maxLength": VOICE_ID_MAX_LENGTH}},
                "required": ["id"],
            },
        ],
        "description": 'A voice name or id, or `{"id": <id>}` (a cloned voice), as OpenAI\'s clients send it.',
    }
)
class OpenAiVoiceField(serializers.Field):
    """OpenAI's `voice`: a string, or an object whose `id` is a string; read as the string."""

    default_error_messages = {"invalid": 'Send a voice name or id, or {{"id": "<voice id>"}}.'}

    def to_internal_value(self, data):
        voice = data.get("id") if isinstance(data, dict) else data
        if not isinstance(voice, str) or len(voice) > VOICE_ID_MAX_LENGTH:
            self.fail("invalid")
        return voice

    def to_representation(self, value):
        return value


class OpenAiSpeechApi(AudioResponseMixin, APIView):
    """POST /v1/audio/speech: OpenAI's text-to-speech request and answer (the audio bytes, or OpenAI's events),
    for the `openai` package and other OpenAI clients."""

    class InputSerializer(serializers.Serializer):
        input = StrictCharField(trim_whitespace=False, allow_blank=True)
        model = StrictCharField(required=False, allow_blank=True)
        voice = OpenAiVoiceField(required=False)
        response_format = StrictCharField(required=False, allow_blank=True)
        speed = serializers.FloatField(required=False, default=1.0, min_value=SPEED_MIN, max_value=SPEED_MAX)
        instructions = StrictCharField(required=False, allow_blank=True)
        stream_format = StrictCharField(
            required=False,
            allow_blank=True,
            help_text=(
                '`audio` (default): the audio bytes. `sse`: server-sent events, `{"type": "speech.audio.delta", '
                '"audio": <base64>}` then `{"type": "speech.audio.done", "usage": {...}}`. Otherwise 400 '
                "`invalid_stream_format`."
            ),
        )

        class Meta:
            ref_name = "OpenAiSpeechRequest"

    serializer_class = InputSerializer  # for the schema generator (an APIView has no get_serializer)

    @extend_schema(
        operation_id="openai_audio_speech",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={(200, "audio/*"): OpenApiTypes.BINARY, (200, SSE_CONTENT_TYPE): OpenApiTypes.STR},
        description=(
            "OpenAI-compatible speech: `model` (accepted, ignored), `input`, `voice` (ours, or an OpenAI name "
            "mapped by OPENAI_VOICE_MAP / OPENAI_DEFAULT_VOICE), `response_format` (mp3, opus, wav, flac, pcm at "
            "24 kHz), `speed`, `stream_format`.\n\n"
            "mp3, opus and pcm stream: the answer starts once the first sentence is synthesized and the rest follows "
            "as it is made (chunked). wav and flac cannot stream (their headers need the whole length): the request "
            "waits for the job and answers the file. A cache hit answers the stored audio at once. Header `X-Job-Id` "
            "names the job (GET /v1/tts/{id}).\n\n"
            '`stream_format: "sse"` answers `text/event-stream` in OpenAI\'s shapes: `data: {"type": '
            '"speech.audio.delta", "audio": "<base64 of the response_format\'s bytes>"}` events, then `data: '
            '{"type": "speech.audio.done", "usage": {"input_tokens", "output_tokens", "total_tokens"}}` '
            "(`input_tokens` counts the characters of `input`, which is what we meter; `output_tokens` is 0).\n\n"
            "Errors use our error body and codes, with OpenAI's field names (`input`, `voice`, `response_format`, "
            "`speed`, `stream_format`) in the message and `detail`, and the field at fault in `param`. Anything that "
            "goes wrong before the first audio is an ordinary error: 502 `synthesis_failed` (the job failed), 504 "
            "`synthesis_timeout` (no audio within TTS_WAIT_TIMEOUT; the job goes on), each with the job id. A job "
            "that fails after its audio began ends the stream early: the audio stream just ends (GET /v1/tts/{id} "
            'says why); the events end with `{"type": "error", "error": {"code", "message", "detail"}}` instead of '
            "`speech.audio.done`. A replay (same Idempotency-Key and body) answers the same job: its stored audio "
            "once it succeeded, its stream from the start while it runs, 502 `synthesis_failed` if it failed."
        ),
    )
    @error_statuses(402, 404, 410, 502, 504)
    def post(self, request):
        idempotency = idempotent_request_from(request)
        data = validated_body(
            request, self.InputSerializer, field_errors={"input": _input_error, "speed": InvalidSpeed}
        )
        options = openai_request_translate(data, known_voice_ids=settings.BUILTIN_VOICES)
        sse = openai_stream_format(data) == "sse"
        streams = openai_format_streams(options["output_format"])
        job, replayed = synthesis_job_submit(
            idempotency=idempotency,
            user=request.user,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            streamed=streams,
            **options,
        )
        if job.is_final:
            return _stored_answer(job, replayed, sse=sse)
        if not streams:
            return deferred_api_response(
                self,
                request,
                wait=partial(job_final_wait, job.id, timeout=settings.TTS_WAIT_TIMEOUT),
                respond=partial(_stored_answer, job, replayed, sse=sse, refresh=True),
            )
        start = {}

        async def first_audio_wait() -> None:
            start["entry"] = await job_audio_start_wait(job.id, timeout=settings.TTS_WAIT_TIMEOUT)

        return deferred_api_response(
            self, request, wait=first_audio_wait, respond=lambda: _streamed_answer(job, replayed, start, sse=sse)
        )

    def handle_exception(self, exc):
        if isinstance(exc, ApplicationError):
            exc = openai_error_translate(exc)
        return super().handle_exception(exc)


def _stored_answer(job: SynthesisJob, replayed: bool, *, sse: bool, refresh: bool = False):
    """A finished job's answer from its stored audio, or the error that says why there is none."""
    if refresh:
        job.refresh_from_db()
    if job.is_final and job.status != JobStatus.SUCCEEDED:
        raise SynthesisFailed(
            job.error_message or f"The job is {job.status}.", detail={"job_id": str(job.id), "code": job.error_code}
        )
    if job.status == JobStatus.SUCCEEDED and job.audio_expired:
        raise AudioExpired(detail={"job_id": str(job.id), "expired_at": job.audio_expired_at.isoformat()})
    if not job.is_final or not job.audio:
        raise SynthesisTimeout(detail={"job_id": str(job.id)})
    if sse:
        with default_storage.open(job.audio.name, "rb") as stored:
            events = openai_sse_stored(stored.read(), characters=job.characters)
        response = HttpResponse(events, content_type=SSE_CONTENT_TYPE)
        response["Cache-Control"] = "no-store"
    else:
        fmt = OUTPUT_FORMATS[job.output_format]
        response = FileResponse(
            default_storage.open(job.audio.name, "rb"), content_type=fmt.content_type, filename=job_audio_filename(job)
        )
    response["X-Job-Id"] = str(job.id)
    return replayed_mark(response, replayed)


def _streamed_answer(job: SynthesisJob, replayed: bool, start: dict, *, sse: bool):
    """A streamed job's answer once its first audio exists: the relay of its stream from the start (or, when it
    finished meanwhile, its stored audio); the error when it failed or made no audio within the wait."""
    job.refresh_from_db()
    if job.is_final:
        return _stored_answer(job, replayed, sse=sse)
    if not isinstance(start.get("entry"), bytes):  # no audio yet, or a stream that ended without (a retry)
        raise SynthesisTimeout(detail={"job_id": str(job.id)})
    timeout = settings.TTS_STREAM_IDLE_TIMEOUT
    if sse:
        response = StreamingHttpResponse(
            openai_sse_relay(job_id=job.id, characters=job.characters, timeout=timeout),
            content_type=SSE_CONTENT_TYPE,
        )
    else:
        response = StreamingHttpResponse(
            stream_relay(job_id=job.id, timeout=timeout), content_type=OUTPUT_FORMATS[job.output_format].content_type
        )
        response["Content-Disposition"] = content_disposition_header(False, job_audio_filename(job))
    response["X-Job-Id"] = str(job.id)
    response["Cache-Control"] = "no-store"
    return replayed_mark(response, replayed)
