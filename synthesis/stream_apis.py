"""POST /v1/tts/stream: the audio itself, relayed while the job runs (the relay is in `streaming`)."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from accounts.models import ApiKey
from core.api import AudioResponseMixin
from core.http import FileResponse
from core.schema import error_statuses

from .apis import IDEMPOTENCY_PARAMETER, TtsApi, not_streamable, replayed_mark
from .errors import AudioExpired, SynthesisFailed
from .filenames import job_audio_filename
from .formats import OUTPUT_FORMATS
from .idempotency import idempotent_request_from
from .models import JobStatus
from .services import synthesis_job_submit
from .streaming import STREAMABLE_FORMATS, stream_relay


class TtsStreamApi(AudioResponseMixin, TtsApi):
    """POST /v1/tts/stream: the audio as it is made (chunked), from the first sentence on."""

    @extend_schema(exclude=True)
    def get(self, request):  # listing jobs is GET /v1/tts
        self.http_method_not_allowed(request)

    @extend_schema(
        operation_id="tts_stream",
        request=TtsApi.InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={(200, "audio/*"): OpenApiTypes.BINARY},
        description=(
            "Like POST /v1/tts, but the answer is the audio itself, sent while the job runs (chunked transfer): "
            "the first bytes leave once the first sentence is synthesized. Formats: mp3, pcm, ulaw, ogg "
            "(`format_not_streamable` otherwise). Header `X-Job-Id` names the job; its stored file and status stay "
            "available at /v1/tts/{id}. A cache hit answers the stored file at once. A replay (same Idempotency-Key "
            "and body) answers the same job: its stored file once it succeeded, its stream from the start while it "
            "runs, 502 `synthesis_failed` if it failed."
        ),
    )
    @error_statuses(402, 404, 502)
    def post(self, request):
        idempotency = idempotent_request_from(request)
        data = self._validated(request)
        output_format = data["format"].lower()
        if output_format not in STREAMABLE_FORMATS:
            raise not_streamable(output_format)
        job, replayed = synthesis_job_submit(
            idempotency=idempotency,
            user=request.user,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            text=data["text"],
            voice_id=data.get("voice_id") or settings.DEFAULT_VOICE_ID,
            output_format=output_format,
            sample_rate=data["sample_rate"],
            bitrate=data["bitrate"],
            speed=data["speed"],
            seed=data["seed"],
            normalize=data["normalize"],
            streamed=True,
            timestamps=data["timestamps"],
        )
        content_type = OUTPUT_FORMATS[output_format].content_type
        if job.is_final and job.status != JobStatus.SUCCEEDED:  # a replay of a job that failed or was cancelled
            raise SynthesisFailed(
                job.error_message or f"The job is {job.status}.", detail={"job_id": str(job.id), "code": job.error_code}
            )
        if job.status == JobStatus.SUCCEEDED and job.audio_expired:
            raise AudioExpired(detail={"job_id": str(job.id), "expired_at": job.audio_expired_at.isoformat()})
        if job.status == JobStatus.SUCCEEDED:  # a cache hit (or a replay of a finished job): the stored audio, at once
            response = FileResponse(default_storage.open(job.audio.name, "rb"), content_type=content_type)
        else:
            response = StreamingHttpResponse(
                stream_relay(job_id=job.id, timeout=settings.TTS_STREAM_IDLE_TIMEOUT), content_type=content_type
            )
        response["Content-Disposition"] = content_disposition_header(False, job_audio_filename(job))
        response["X-Job-Id"] = str(job.id)
        response["Cache-Control"] = "no-store"
        return replayed_mark(response, replayed)
