"""REST API for webhooks: /v1/webhooks (endpoints, secrets, test events) and their deliveries."""

from __future__ import annotations

from functools import partial

from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import validated_body
from core.fields import StrictCharField
from core.pagination import PAGE_PARAMETERS, Pagination
from core.schema import error_statuses

from .errors import WebhookEventsInvalid, WebhookUrlInvalid
from .models import EventType
from .selectors import (
    webhook_delivery_get_for,
    webhook_delivery_list_for,
    webhook_endpoint_get_for,
    webhook_endpoint_list_for,
)
from .serializers import WebhookDeliveryOutputSerializer, WebhookEndpointOutputSerializer
from .services import (
    IssuedEndpoint,
    webhook_delivery_resend,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_test_send,
)

_EVENTS = ", ".join(f"`{event}`" for event in EventType.values)
_REFUSALS = (
    "`webhook_url_forbidden` (400: not https, or the host resolves to a loopback, private, link-local, metadata, "
    "multicast, unspecified or reserved address), `webhook_url_invalid`, `webhook_url_unresolvable`, "
    "`webhook_events_invalid`"
)

_IssuedSerializer = inline_serializer(
    "WebhookEndpointWithSecret",
    {
        "webhook": WebhookEndpointOutputSerializer(),
        "secret": serializers.CharField(help_text="The signing secret. Shown only this once."),
    },
)


# Which stable code a malformed field maps to.
_FIELD_ERRORS = {
    "url": WebhookUrlInvalid,
    "events": partial(WebhookEventsInvalid, "Give `events` as a list of event types."),
}


def _issued(issued: IssuedEndpoint, http_status: int) -> Response:
    response = Response(
        {"webhook": WebhookEndpointOutputSerializer(issued.endpoint).data, "secret": issued.secret}, status=http_status
    )
    # The body carries the signing secret: no browser or cache between may keep it.
    add_never_cache_headers(response)
    return response


class WebhookListApi(APIView):
    class InputSerializer(serializers.Serializer):
        url = StrictCharField(min_length=1, max_length=2000)
        events = serializers.ListField(child=StrictCharField(max_length=32), allow_empty=True)
        description = StrictCharField(max_length=200, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "WebhookEndpointCreateRequest"

    @extend_schema(
        operation_id="webhooks_list",
        responses=inline_serializer("WebhookEndpointList", {"webhooks": WebhookEndpointOutputSerializer(many=True)}),
    )
    def get(self, request):
        endpoints = webhook_endpoint_list_for(user=request.user)
        return Response({"webhooks": WebhookEndpointOutputSerializer(endpoints, many=True).data})

    @extend_schema(
        operation_id="webhooks_create",
        request=InputSerializer,
        responses={201: _IssuedSerializer},
        description=(
            f"Register an HTTPS endpoint for any of {_EVENTS}. The answer carries the endpoint's signing `secret`, "
            "shown only this once: every delivery is signed `ODIADEV-Signature: t=<unix>,v1=<hex>` (HMAC-SHA256 of "
            f'"{{t}}.{{body}}" with it). Refusals: {_REFUSALS}, `webhook_endpoint_limit` (409).'
        ),
    )
    @error_statuses(409)
    def post(self, request):
        data = validated_body(request, self.InputSerializer, field_errors=_FIELD_ERRORS)
        issued = webhook_endpoint_create(
            user=request.user, url=data["url"], events=data["events"], description=data.get("description", "")
        )
        return _issued(issued, status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    class UpdateSerializer(serializers.Serializer):
        url = StrictCharField(min_length=1, max_length=2000, required=False)
        events = serializers.ListField(child=StrictCharField(max_length=32), allow_empty=True, required=False)
        description = StrictCharField(max_length=200, required=False, allow_blank=True)

        class Meta:
            ref_name = "WebhookEndpointUpdateRequest"

    @extend_schema(operation_id="webhooks_retrieve", responses=WebhookEndpointOutputSerializer)
    def get(self, request, webhook_id):
        endpoint = webhook_endpoint_get_for(user=request.user, endpoint_id=webhook_id)
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_update",
        request=UpdateSerializer,
        responses=WebhookEndpointOutputSerializer,
        description=f"Change the URL (checked like a new one), the events or the description. Refusals: {_REFUSALS}.",
    )
    def patch(self, request, webhook_id):
        endpoint = webhook_endpoint_get_for(user=request.user, endpoint_id=webhook_id)
        data = validated_body(request, self.UpdateSerializer, partial=True, field_errors=_FIELD_ERRORS)
        endpoint = webhook_endpoint_update(
            endpoint=endpoint, url=data.get("url"), events=data.get("events"), description=data.get("description")
        )
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", responses={204: None}, description="Delete with its deliveries.")
    def delete(self, request, webhook_id):
        webhook_endpoint_delete(endpoint=webhook_endpoint_get_for(user=request.user, endpoint_id=webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(APIView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        request=None,
        responses=_IssuedSerializer,
        description=(
            "A new signing secret, shown only this once. For `WEBHOOK_SECRET_ROTATION_GRACE` seconds (24 h by "
            "default) deliveries carry a second `v1=` signature made with the old secret."
        ),
    )
    def post(self, request, webhook_id):
        endpoint = webhook_endpoint_get_for(user=request.user, endpoint_id=webhook_id)
        return _issued(webhook_endpoint_rotate_secret(endpoint=endpoint), status.HTTP_200_OK)


class WebhookTestApi(APIView):
    @extend_schema(
        operation_id="webhooks_test",
        request=None,
        responses={202: WebhookDeliveryOutputSerializer},
        description=(
            "Queue a signed `webhook.test` event to the endpoint (one attempt, no automatic retry). Follow it with "
            "GET /v1/webhooks/{id}/deliveries."
        ),
    )
    @error_statuses(409)
    def post(self, request, webhook_id):
        endpoint = webhook_endpoint_get_for(user=request.user, endpoint_id=webhook_id)
        delivery = webhook_test_send(endpoint=endpoint)
        return Response(WebhookDeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries_list",
        parameters=PAGE_PARAMETERS,
        responses=inline_serializer(
            "WebhookDeliveryPage",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": WebhookDeliveryOutputSerializer(many=True),
            },
        ),
        description="The endpoint's deliveries, newest first, each with its status and every attempt.",
    )
    def get(self, request, webhook_id):
        endpoint = webhook_endpoint_get_for(user=request.user, endpoint_id=webhook_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(webhook_delivery_list_for(endpoint=endpoint), request, view=self)
        return paginator.get_paginated_response(WebhookDeliveryOutputSerializer(page, many=True).data)


class WebhookDeliveryResendApi(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries_resend",
        request=None,
        responses={202: OpenApiResponse(WebhookDeliveryOutputSerializer, description="Queued again.")},
        description=(
            "Send a delivery again now, whatever its status: the same event id (receivers can drop a duplicate), "
            "a fresh retry window, its earlier attempts kept."
        ),
    )
    @error_statuses(409)
    def post(self, request, delivery_id):
        delivery = webhook_delivery_get_for(user=request.user, delivery_id=delivery_id)
        delivery = webhook_delivery_resend(delivery=delivery)
        return Response(WebhookDeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
