"""REST API for voices: /v1/voices (catalog and cloned voices) and consent challenges."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.clientip import client_ip
from core.exceptions import AudioTooLarge, InvalidRequest
from core.fields import StrictCharField
from core.http import FileResponse
from core.parsers import JSONParser
from core.schema import error_statuses

from .consent import consent_challenge_create
from .selectors import consent_challenge_get_for, voice_list_for, voice_profile_get_for
from .serializers import (
    ConsentChallengeOutputSerializer,
    ConsentRecordOutputSerializer,
    VoiceOutputSerializer,
    VoiceProfileOutputSerializer,
)
from .services import Upload, voice_profile_create, voice_profile_delete, voice_profile_transcript_set

# Multipart overhead on top of the two recordings before the body is refused unread.
_MULTIPART_SLACK = 256 * 1024


class VoiceListApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=100, allow_blank=True)
        sample = serializers.FileField(allow_empty_file=True)
        sample_transcript = StrictCharField(
            required=False,
            allow_blank=True,
            max_length=5000,
            help_text="What is said in the sample. Optional: left out, we transcribe the sample.",
        )
        consent_audio = serializers.FileField(allow_empty_file=True)
        challenge_id = StrictCharField(min_length=1, max_length=64)

        class Meta:
            ref_name = "VoiceCreateRequest"

    @extend_schema(
        operation_id="voices_list",
        responses=inline_serializer("VoiceList", {"voices": VoiceOutputSerializer(many=True)}),
    )
    def get(self, request):
        voices = voice_list_for(user=request.user)
        return Response({"voices": VoiceOutputSerializer(voices, many=True).data})

    @extend_schema(
        operation_id="voices_create",
        request={"multipart/form-data": InputSerializer},
        responses={202: VoiceProfileOutputSerializer},
        description=(
            "Clone your voice: a consent recording reading the statement of a fresh consent challenge, and a voice "
            "sample (5-60 s), optionally with its transcript (left out, we transcribe the sample). Answers 202 with "
            "the profile in status `verifying`; it becomes `active` or `rejected` shortly (websocket "
            "`voice.updated`), or stays `verifying` while a person reviews a consent recording the check could not "
            "decide alone (`consent_outcome` `review`). GET /v1/voices/{id}/consent says what was heard."
        ),
    )
    @error_statuses(402, 404, 409)
    def post(self, request):
        # Refuse an oversized body before reading it.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > 2 * settings.VOICE_UPLOAD_MAX_BYTES + _MULTIPART_SLACK:
            raise AudioTooLarge(
                f"The upload is larger than two files of {settings.VOICE_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
                detail={"max_bytes": settings.VOICE_UPLOAD_MAX_BYTES},
            )
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            raise InvalidRequest(
                "Send name, sample, consent_audio and challenge_id (and optionally sample_transcript).",
                detail=serializer.errors,
            )
        data = serializer.validated_data
        profile = voice_profile_create(
            user=request.user,
            name=data["name"],
            sample=Upload(name=data["sample"].name, data=data["sample"].read()),
            sample_transcript=data.get("sample_transcript", ""),
            consent_audio=Upload(name=data["consent_audio"].name, data=data["consent_audio"].read()),
            challenge_id=data["challenge_id"],
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(VoiceProfileOutputSerializer(profile).data, status=status.HTTP_202_ACCEPTED)


class VoiceDetailApi(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    class UpdateSerializer(serializers.Serializer):
        sample_transcript = StrictCharField(max_length=5000, help_text="What is said in the voice sample.")

        class Meta:
            ref_name = "VoiceUpdateRequest"

    @extend_schema(operation_id="voices_retrieve", responses=VoiceProfileOutputSerializer)
    def get(self, request, voice_id):
        profile = voice_profile_get_for(user=request.user, profile_id=voice_id)
        return Response(VoiceProfileOutputSerializer(profile).data)

    @extend_schema(
        operation_id="voices_update",
        request=UpdateSerializer,
        responses=VoiceProfileOutputSerializer,
        description=(
            "Correct the sample's transcript (the cloned voice speaks it before each text, so `version` goes up)."
        ),
    )
    @error_statuses(409)
    def patch(self, request, voice_id):
        profile = voice_profile_get_for(user=request.user, profile_id=voice_id)
        serializer = self.UpdateSerializer(data=request.data)
        if not serializer.is_valid():
            raise InvalidRequest(
                "Send sample_transcript: the words said in the voice sample.", detail=serializer.errors
            )
        transcript = serializer.validated_data["sample_transcript"]
        profile = voice_profile_transcript_set(profile=profile, transcript=transcript)
        return Response(VoiceProfileOutputSerializer(profile).data)

    @extend_schema(operation_id="voices_destroy", responses={204: None})
    @error_statuses(409)
    def delete(self, request, voice_id):
        voice_profile_delete(profile=voice_profile_get_for(user=request.user, profile_id=voice_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class VoiceSampleApi(APIView):
    @extend_schema(operation_id="voices_sample", responses={(200, "audio/*"): OpenApiTypes.BINARY})
    def get(self, request, voice_id):
        profile = voice_profile_get_for(user=request.user, profile_id=voice_id)
        return FileResponse(default_storage.open(profile.sample.name, "rb"), content_type="application/octet-stream")


class VoiceConsentApi(APIView):
    @extend_schema(operation_id="voices_consent", responses=ConsentRecordOutputSerializer)
    def get(self, request, voice_id):
        profile = voice_profile_get_for(user=request.user, profile_id=voice_id)
        return Response(ConsentRecordOutputSerializer(profile.consent).data)


class ConsentChallengeApi(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        operation_id="consent_challenge_create", request=None, responses={201: ConsentChallengeOutputSerializer}
    )
    @error_statuses(402)
    def post(self, request):
        challenge = consent_challenge_create(user=request.user, ip_address=client_ip(request))
        return Response(ConsentChallengeOutputSerializer(challenge).data, status=status.HTTP_201_CREATED)


class ConsentChallengeDetailApi(APIView):
    @extend_schema(operation_id="consent_challenge_retrieve", responses=ConsentChallengeOutputSerializer)
    def get(self, request, challenge_id):
        challenge = consent_challenge_get_for(user=request.user, challenge_id=challenge_id)
        return Response(ConsentChallengeOutputSerializer(challenge).data)
