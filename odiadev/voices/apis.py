"""GET /v1/voices."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import voice_list_for


class VoiceOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    engine = serializers.CharField()
    language = serializers.CharField()
    kind = serializers.CharField()
    version = serializers.IntegerField()
    gender = serializers.CharField()
    description = serializers.CharField()
    sample_rate = serializers.IntegerField()
    model_id = serializers.CharField()

    class Meta:
        ref_name = "Voice"


class VoiceListApi(APIView):
    @extend_schema(
        operation_id="voices_list",
        responses=inline_serializer("VoiceList", {"voices": VoiceOutputSerializer(many=True)}),
    )
    def get(self, request):
        voices = voice_list_for(user=request.user)
        return Response({"voices": VoiceOutputSerializer(voices, many=True).data})
