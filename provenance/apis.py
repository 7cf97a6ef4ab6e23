"""REST API for provenance: POST /v1/provenance/verify, public (no API key) and strictly rate-limited per IP."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from core.exceptions import AudioTooLarge, InvalidRequest

from .services import audio_provenance_verify, provenance_rate_check

# Multipart overhead on top of the file before the body is refused unread.
_MULTIPART_SLACK = 64 * 1024


class ProvenanceThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        self.verdict = provenance_rate_check(request)
        return self.verdict.allowed

    def wait(self) -> float:
        return self.verdict.retry_after


class ProvenanceVerifyApi(APIView):
    # Public: no key, and no session either (so no CSRF token is asked of pages and scripts that post here).
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ProvenanceThrottle]
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        audio = serializers.FileField(allow_empty_file=True)

        class Meta:
            ref_name = "ProvenanceVerifyRequest"

    @extend_schema(
        operation_id="provenance_verify",
        auth=[],
        request={"multipart/form-data": InputSerializer},
        responses=inline_serializer(
            "ProvenanceVerdict",
            {
                "watermarked": serializers.BooleanField(),
                "confidence": serializers.FloatField(),
                "speech_ratio": serializers.FloatField(),
                "reason": serializers.ChoiceField(choices=["marked", "no_speech", "inconclusive", "not_marked"]),
                "seconds_analysed": serializers.FloatField(),
                "truncated": serializers.BooleanField(),
            },
        ),
        description=(
            "Whether an audio file (wav, mp3, ogg, flac, webm...) carries the ODIADEV-TTS provenance watermark "
            "(PerTh), which all Free-plan audio and opted-in accounts' audio carries. A mark is claimed only on "
            "speech: `reason` is `marked`, `no_speech` (too little speech to judge: `speech_ratio` below "
            "PROVENANCE_MIN_SPEECH_RATIO), `inconclusive` (speech scoring between 0.5 and the verdict threshold) or "
            "`not_marked`. A long file is judged on its first PROVENANCE_MAX_SECONDS (`truncated: true`). No API key "
            "needed; limited per IP (429 with Retry-After). Errors: `audio_too_large` (413), `audio_unreadable`, "
            "`audio_too_short` (400), `verification_unavailable` (503)."
        ),
    )
    def post(self, request):
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.PROVENANCE_UPLOAD_MAX_BYTES + _MULTIPART_SLACK:
            raise AudioTooLarge(
                f"The file is larger than {settings.PROVENANCE_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
                detail={"max_bytes": settings.PROVENANCE_UPLOAD_MAX_BYTES},
            )
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            raise InvalidRequest("Send the file as the multipart field `audio`.", detail=serializer.errors)
        return Response(audio_provenance_verify(data=serializer.validated_data["audio"].read()))
