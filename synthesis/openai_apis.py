"""POST /v1/audio/speech: OpenAI's text-to-speech request and answer, for the `openai` package and other OpenAI
clients (the translation itself is in `openai_compat`)."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.views import APIView

from accounts.models import ApiKey
from core.api import AudioResponseMixin, validated_body
from core.deferred import deferred_api_response
from core.fields import StrictCharField
from core.schema import error_statuses

from .apis import IDEMPOTENCY_PARAMETER, replayed_mark
from .errors import InvalidSpeed, SynthesisFailed, SynthesisTimeout
from .filenames import job_audio_filename
from .formats import OUTPUT_FORMATS
from .idempotency import idempotent_request_from
from .models import JobStatus, SynthesisJob
from .openai_compat import openai_request_translate
from .services import SPEED_MAX, SPEED_MIN, synthesis_job_submit
from .waiting import job_final_wait

VOICE_ID_MAX_LENGTH = 100


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
    """POST /v1/audio/speech: OpenAI's text-to-speech request and answer (the audio bytes), for the `openai` package
    and other OpenAI clients. The request waits for the job like `"wait": true` does."""

    class InputSerializer(serializers.Serializer):
        input = StrictCharField(trim_whitespace=False, allow_blank=True)
        model = StrictCharField(required=False, allow_blank=True)
        voice = OpenAiVoiceField(required=False)
        response_format = StrictCharField(required=False, allow_blank=True)
        speed = serializers.FloatField(required=False, default=1.0, min_value=SPEED_MIN, max_value=SPEED_MAX)
        instructions = StrictCharField(required=False, allow_blank=True)
        stream_format = StrictCharField(required=False, allow_blank=True)

        class Meta:
            ref_name = "OpenAiSpeechRequest"

    serializer_class = InputSerializer  # for the schema generator (an APIView has no get_serializer)

    @extend_schema(
        operation_id="openai_audio_speech",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={(200, "audio/*"): OpenApiTypes.BINARY},
        description=(
            "OpenAI-compatible speech: `model` (accepted, ignored), `input`, `voice` (ours, or an OpenAI name "
            "mapped by OPENAI_VOICE_MAP / OPENAI_DEFAULT_VOICE), `response_format` (mp3, opus, wav, flac, pcm at "
            "24 kHz), "
            "`speed`. Answers the audio bytes; errors use our error body and codes. A job still running after "
            "TTS_WAIT_TIMEOUT answers 504 `synthesis_timeout` with its id (fetch it from /v1/tts/{id}). A replay "
            "(same Idempotency-Key and body) waits for the same job and answers its audio."
        ),
    )
    @error_statuses(402, 404, 502, 504)
    def post(self, request):
        idempotency = idempotent_request_from(request)
        data = validated_body(request, self.InputSerializer, field_errors={"speed": InvalidSpeed})
        options = openai_request_translate(data, known_voice_ids=settings.BUILTIN_VOICES)
        job, replayed = synthesis_job_submit(
            idempotency=idempotency,
            user=request.user,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            **options,
        )
        if job.is_final:
            return self._answer(job, replayed)
        return deferred_api_response(
            self,
            request,
            wait=partial(job_final_wait, job.id, timeout=settings.TTS_WAIT_TIMEOUT),
            respond=partial(self._answer, job, replayed, refresh=True),
        )

    @staticmethod
    def _answer(job: SynthesisJob, replayed: bool, *, refresh: bool = False):
        if refresh:
            job.refresh_from_db()
        if job.status == JobStatus.FAILED:
            raise SynthesisFailed(
                job.error_message or "Synthesis failed.", detail={"job_id": str(job.id), "code": job.error_code}
            )
        if not job.is_final or not job.audio:
            raise SynthesisTimeout(detail={"job_id": str(job.id)})
        fmt = OUTPUT_FORMATS[job.output_format]
        response = FileResponse(
            default_storage.open(job.audio.name, "rb"), content_type=fmt.content_type, filename=job_audio_filename(job)
        )
        response["X-Job-Id"] = str(job.id)
        return replayed_mark(response, replayed)
