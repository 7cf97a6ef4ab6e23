"""REST API for synthesis: /v1/tts and /v1/pronunciations. Thin views: parse input, call one service or selector,
shape output."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from core.api import validated_body
from core.deferred import deferred_api_response
from core.exceptions import ApplicationError, InvalidRequest
from core.fields import StrictCharField
from core.http import ranged_file_response
from core.pagination import PAGE_PARAMETERS, Pagination
from core.schema import error_statuses

from .errors import (
    AudioExpired,
    AudioLinkInvalid,
    AudioNotReady,
    FormatNotStreamable,
    InvalidBitrate,
    InvalidFormat,
    InvalidSampleRate,
    InvalidSeed,
    InvalidSpeed,
    PronunciationInvalid,
    TextEmpty,
)
from .filenames import job_audio_filename
from .formats import MP3_BITRATES, OUTPUT_FORMATS, SAMPLE_RATES
from .idempotency import IDEMPOTENCY_HEADER, KEY_MAX_LENGTH, REPLAYED_HEADER, idempotent_request_from
from .models import SynthesisJob
from .pronunciations import pronunciation_create, pronunciation_delete, pronunciation_update
from .selectors import job_get, job_get_for, job_list_for, pronunciation_get_for, pronunciation_list_for
from .serializers import JobOutputSerializer, PronunciationOutputSerializer, audio_token_valid, job_payload
from .services import SEED_MAX, SPEED_MAX, SPEED_MIN, synthesis_job_submit
from .streaming import STREAMABLE_FORMATS
from .transitions import synthesis_job_cancel
from .waiting import job_final_wait


# Which stable code a malformed field maps to (a wrong type is reported like a wrong value).
def _text_error(*, detail) -> ApplicationError:
    """`text` missing, null or blank is `text_empty`; of another type (a number, a list) the request is invalid."""
    if detail.get("text") == ["Not a valid string."]:
        return InvalidRequest("`text` must be a string.", detail=detail)
    return TextEmpty(detail=detail)


_FIELD_ERRORS = {
    "text": _text_error,
    "format": InvalidFormat,
    "sample_rate": InvalidSampleRate,
    "bitrate": InvalidBitrate,
    "speed": InvalidSpeed,
    "seed": InvalidSeed,
}


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _job_response(request, job, http_status: int) -> Response:
    return Response(job_payload(job, base_url=_base_url(request)), status=http_status)


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    # Printable: no control characters (U+0000-U+001F, U+007F).
    {"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Up to {KEY_MAX_LENGTH} characters (a V4 UUID). Retrying with the same key and the same body within 24 hours "
        "answers the first request's job (same id, billed once) with the header `Idempotent-Replayed: true`; the "
        "same key with another body is 409 `idempotency_key_reused`. Keys are per account."
    ),
)


def replayed_mark(response, replayed: bool):
    """Say on the response that it answers an earlier request with the same Idempotency-Key."""
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


class TtsApi(APIView):
    class InputSerializer(serializers.Serializer):
        text = StrictCharField(trim_whitespace=False, allow_blank=True)
        voice_id = StrictCharField(required=False, max_length=100)
        format = StrictCharField(
            required=False,
            default="wav",
            max_length=16,
            help_text=(
                f"One of {', '.join(OUTPUT_FORMATS)} (default wav). `pcm` is raw signed 16-bit little-endian mono "
                "(application/octet-stream); `ulaw` is raw G.711 μ-law at 8 kHz mono (audio/basic), for telephony."
            ),
        )
        sample_rate = serializers.IntegerField(
            required=False,
            allow_null=True,
            default=None,
            help_text=(
                f"Hz: one of {', '.join(map(str, SAMPLE_RATES))}; default the voice's own rate. ogg (Opus) takes "
                "8000, 16000, 24000 or 48000 (default 48000 for a voice at another rate); ulaw is always 8000. "
                "Otherwise 400 `invalid_sample_rate`."
            ),
        )
        bitrate = serializers.IntegerField(
            required=False,
            allow_null=True,
            default=None,
            help_text=(
                f"mp3 only, kbps (constant bitrate): one of {', '.join(map(str, MP3_BITRATES))}; default 128. MP3 "
                "allows at most 160 below 32 kHz and 64 at 8 kHz (there the default is 64). Otherwise 400 "
                "`invalid_bitrate`."
            ),
        )
        speed = serializers.FloatField(required=False, default=1.0, min_value=SPEED_MIN, max_value=SPEED_MAX)
        seed = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=SEED_MAX)
        wait = serializers.BooleanField(required=False, default=False)
        stream = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Also stream the audio while it is made, over the websocket (`audio.subscribe`). "
            "mp3, pcm, ulaw or ogg.",
        )
        timestamps = serializers.BooleanField(
            required=False,
            default=False,
            help_text=(
                "Word timestamps: the job gets `words`, [{text, start, end}] in seconds of its audio (at any speed, "
                "format and sample rate), and captions at /v1/tts/{id}/captions.srt and .vtt. Piper times words from "
                "its alignments, other engines (Dia) by the speech recogniser; where that is off, 400 "
                "`timestamps_unavailable`. With /v1/tts/stream the words are on the job "
                "(GET /v1/tts/{id}) once it succeeds."
            ),
        )
        normalize = serializers.BooleanField(
            required=False,
            default=True,
            help_text=(
                "Spell out numbers, money, dates, times, abbreviations, URLs and emails before synthesis (default "
                "true). Your pronunciation dictionary applies either way."
            ),
        )

        class Meta:
            ref_name = "TtsRequest"

    def _validated(self, request) -> dict:
        return validated_body(request, self.InputSerializer, field_errors=_FIELD_ERRORS, message=None)

    @extend_schema(
        operation_id="tts_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            202: OpenApiResponse(JobOutputSerializer, description="Queued (or, with `wait`, still running)."),
            200: OpenApiResponse(JobOutputSerializer, description="Finished: a cache hit, or `wait` was true."),
        },
        description=(
            f"Submit text for synthesis. Formats: {', '.join(OUTPUT_FORMATS)}, at `sample_rate` (default: the "
            "voice's own) and, for mp3, `bitrate`; speed 0.5-2.0. With `wait: true` "
            "the call blocks until the job is finished (up to a server-side timeout) and answers 200. The text is "
            "read after your pronunciation dictionary and (unless `normalize` is false) English normalisation; the "
            "job's `spoken_text` shows what the engine read."
        ),
    )
    @error_statuses(402, 404)
    def post(self, request):
        idempotency = idempotent_request_from(request)
        data = self._validated(request)
        if data["stream"] and data["format"].lower() not in STREAMABLE_FORMATS:
            raise not_streamable(data["format"].lower())
        job, replayed = synthesis_job_submit(
            idempotency=idempotency,
            user=request.user,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            text=data["text"],
            voice_id=data.get("voice_id") or settings.DEFAULT_VOICE_ID,
            output_format=data["format"].lower(),
            sample_rate=data["sample_rate"],
            bitrate=data["bitrate"],
            speed=data["speed"],
            seed=data["seed"],
            normalize=data["normalize"],
            streamed=data["stream"],
            timestamps=data["timestamps"],
        )
        if data["wait"] and not job.is_final:
            return deferred_api_response(
                self,
                request,
                wait=partial(job_final_wait, job.id, timeout=settings.TTS_WAIT_TIMEOUT),
                respond=partial(self._answer, request, job, replayed, refresh=True),
            )
        return self._answer(request, job, replayed)

    @staticmethod
    def _answer(request, job: SynthesisJob, replayed: bool, *, refresh: bool = False):
        if refresh:
            job.refresh_from_db()
        response = _job_response(request, job, status.HTTP_200_OK if job.is_final else status.HTTP_202_ACCEPTED)
        return replayed_mark(response, replayed)

    @extend_schema(
        operation_id="tts_list",
        parameters=PAGE_PARAMETERS,
        responses=inline_serializer(
            "JobPage",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": JobOutputSerializer(many=True),
            },
        ),
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(job_list_for(user=request.user), request, view=self)
        base_url = _base_url(request)
        data = [job_payload(job, base_url=base_url) for job in page]
        return paginator.get_paginated_response(data)


class TtsDetailApi(APIView):
    @extend_schema(operation_id="tts_retrieve", responses=JobOutputSerializer)
    def get(self, request, job_id):
        return _job_response(request, job_get_for(user=request.user, job_id=job_id), status.HTTP_200_OK)


class TtsCancelApi(APIView):
    @extend_schema(
        operation_id="tts_cancel",
        request=None,
        responses=JobOutputSerializer,
        description="Cancel a queued or running job; its characters are given back. 409 once it has finished.",
    )
    @error_statuses(409)
    def post(self, request, job_id):
        job = synthesis_job_cancel(job=job_get_for(user=request.user, job_id=job_id))
        return _job_response(request, job, status.HTTP_200_OK)


class TtsAudioApi(APIView):
    """The audio bytes: for the owner (API key or session), or for anyone holding a valid signed link."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="tts_audio",
        parameters=[
            OpenApiParameter("token", OpenApiTypes.STR, description="Signed token from `audio_url`."),
            OpenApiParameter(
                "download",
                OpenApiTypes.BOOL,
                description="`true`: `Content-Disposition: attachment` (save the file) instead of `inline` (play it).",
            ),
        ],
        responses={(200, "audio/*"): OpenApiTypes.BINARY},
        description=(
            "The audio bytes (Range requests answer 206), typed by the job's format: audio/wav, audio/mpeg, "
            "audio/ogg, audio/flac, application/octet-stream for `pcm` (raw signed 16-bit little-endian mono at the "
            "job's `sample_rate`) and audio/basic for `ulaw` (raw G.711 μ-law, 8 kHz mono). 409 `audio_not_ready` "
            "before the job succeeds; 410 "
            "`audio_expired` once the audio was deleted after the plan's retention period. `Content-Disposition` "
            "names the file `odiadev-<job date>-<first words of the text>.<format>`."
        ),
    )
    @error_statuses(409, 410, 416)
    def get(self, request, job_id):
        token = request.query_params.get("token")
        if token and audio_token_valid(token, job_id, max_age=settings.TTS_AUDIO_URL_TTL):
            job = job_get(job_id=job_id)
        elif request.user is not None and request.user.is_authenticated:
            job = job_get_for(user=request.user, job_id=job_id)
        elif token:
            raise AudioLinkInvalid()
        else:
            self.permission_denied(request)
        if job.audio_expired:
            raise AudioExpired(detail={"expired_at": job.audio_expired_at.isoformat()})
        if not job.audio:
            raise AudioNotReady()
        fmt = OUTPUT_FORMATS[job.output_format]
        response = ranged_file_response(
            request,
            default_storage.open(job.audio.name, "rb"),
            size=job.audio_bytes or default_storage.size(job.audio.name),
            content_type=fmt.content_type,
            filename=job_audio_filename(job),
        )
        as_attachment = request.query_params.get("download", "").lower() in ("1", "true", "yes")
        response["Content-Disposition"] = content_disposition_header(as_attachment, job_audio_filename(job))
        response["Cache-Control"] = "private, max-age=3600"
        return response


class PronunciationInputSerializer(serializers.Serializer):
    word = StrictCharField(min_length=1, max_length=100, trim_whitespace=True, help_text="Literal text to find.")
    replacement = StrictCharField(min_length=1, max_length=200, trim_whitespace=True, help_text="What to say instead.")
    case_sensitive = serializers.BooleanField(required=False, default=False)
    whole_word = serializers.BooleanField(required=False, default=True)

    class Meta:
        ref_name = "PronunciationRequest"


def _pronunciation_input(request, *, partial: bool) -> dict:
    return validated_body(
        request, PronunciationInputSerializer, partial=partial, error=PronunciationInvalid, message=None
    )


class PronunciationListApi(APIView):
    @extend_schema(
        operation_id="pronunciations_list",
        responses=inline_serializer(
            "PronunciationList",
            {
                "pronunciations": PronunciationOutputSerializer(many=True),
                "max_entries": serializers.IntegerField(),
            },
        ),
        description="Your pronunciation dictionary, by word.",
    )
    def get(self, request):
        entries = pronunciation_list_for(user=request.user)
        return Response(
            {
                "pronunciations": PronunciationOutputSerializer(entries, many=True).data,
                "max_entries": settings.PRONUNCIATIONS_MAX_PER_ACCOUNT,
            }
        )

    @extend_schema(
        operation_id="pronunciations_create",
        request=PronunciationInputSerializer,
        responses={201: PronunciationOutputSerializer},
        description=(
            "Add an entry: in every later job, `word` is said as `replacement` (spoken exactly as written). Applied "
            "before normalisation, longest word first; whole words only unless `whole_word` is false. 409 "
            "`pronunciation_exists` for a word you already have, 409 `pronunciation_limit_reached` when the "
            "dictionary is full."
        ),
    )
    @error_statuses(409)
    def post(self, request):
        entry = pronunciation_create(user=request.user, **_pronunciation_input(request, partial=False))
        return Response(PronunciationOutputSerializer(entry).data, status=status.HTTP_201_CREATED)


class PronunciationDetailApi(APIView):
    @extend_schema(operation_id="pronunciations_retrieve", responses=PronunciationOutputSerializer)
    def get(self, request, pronunciation_id):
        entry = pronunciation_get_for(user=request.user, pronunciation_id=pronunciation_id)
        return Response(PronunciationOutputSerializer(entry).data)

    @extend_schema(
        operation_id="pronunciations_update",
        request=PronunciationInputSerializer(partial=True),
        responses=PronunciationOutputSerializer,
        description="Change any of the entry's fields.",
    )
    @error_statuses(409)
    def patch(self, request, pronunciation_id):
        data = _pronunciation_input(request, partial=True)
        entry = pronunciation_update(user=request.user, pronunciation_id=pronunciation_id, **data)
        return Response(PronunciationOutputSerializer(entry).data)

    @extend_schema(operation_id="pronunciations_delete", responses={204: None})
    def delete(self, request, pronunciation_id):
        pronunciation_delete(user=request.user, pronunciation_id=pronunciation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def not_streamable(output_format: str) -> FormatNotStreamable:
    """The error for a format that is only ever a stored file; also used by /v1/tts/stream."""
    return FormatNotStreamable(
        f"Streaming delivers {', '.join(STREAMABLE_FORMATS)}; {output_format} is only a stored file (POST /v1/tts).",
        detail={"streamable": list(STREAMABLE_FORMATS)},
    )
