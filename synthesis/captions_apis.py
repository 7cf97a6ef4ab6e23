"""GET /v1/tts/{id}/captions.srt and .vtt: a job's captions, made from its word timestamps (synthesis/timestamps.py)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from core.api import AudioResponseMixin
from core.schema import error_statuses

from .errors import CaptionsNotReady
from .models import JobStatus
from .selectors import job_get_for
from .timestamps import CUE_MAX_CHARS, CUE_MAX_WORDS, captions_srt, captions_vtt


class _TtsCaptionsApi(AudioResponseMixin, APIView):
    """A job's captions from its word timestamps (owner only: another account's job is 404)."""

    content_type = ""

    @staticmethod
    def render(words: list[dict]) -> str:
        raise NotImplementedError

    def get(self, request, job_id):
        job = job_get_for(user=request.user, job_id=job_id)
        if job.status != JobStatus.SUCCEEDED or job.words is None:
            raise CaptionsNotReady(detail={"status": job.status, "timestamps": job.timestamps})
        response = HttpResponse(self.render(job.words), content_type=self.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response


_CAPTIONS_DESCRIPTION = (
    "Captions of a job submitted with `timestamps: true`, from its word timestamps: cues of up to "
    f"{CUE_MAX_WORDS} words and {CUE_MAX_CHARS} characters, each ending at most at a sentence end. 409 "
    "`captions_unavailable` until the job succeeds, or for a job without timestamps."
)


class TtsCaptionsSrtApi(_TtsCaptionsApi):
    content_type = "application/x-subrip; charset=utf-8"
    render = staticmethod(captions_srt)

    @extend_schema(
        operation_id="tts_captions_srt",
        responses={(200, "application/x-subrip"): OpenApiTypes.STR},
        description=f"SubRip (.srt). {_CAPTIONS_DESCRIPTION}",
    )
    @error_statuses(409)
    def get(self, request, job_id):
        return super().get(request, job_id)


class TtsCaptionsVttApi(_TtsCaptionsApi):
    content_type = "text/vtt; charset=utf-8"
    render = staticmethod(captions_vtt)

    @extend_schema(
        operation_id="tts_captions_vtt",
        responses={(200, "text/vtt"): OpenApiTypes.STR},
        description=f"WebVTT (.vtt). {_CAPTIONS_DESCRIPTION}",
    )
    @error_statuses(409)
    def get(self, request, job_id):
        return super().get(request, job_id)
