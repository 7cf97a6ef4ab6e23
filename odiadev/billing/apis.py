"""GET /v1/usage."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import usage_summary_for


class UsageApi(APIView):
    @extend_schema(
        operation_id="usage_retrieve",
        responses=inline_serializer(
            "Usage",
            {
                "plan": serializers.DictField(),
                "period": serializers.DictField(),
                "characters": serializers.DictField(child=serializers.IntegerField()),
                "by_day": serializers.ListField(child=serializers.DictField()),
            },
        ),
        description="This month's characters (granted, used, remaining) and usage per day for the last 30 days.",
    )
    def get(self, request):
        return Response(usage_summary_for(user=request.user))
