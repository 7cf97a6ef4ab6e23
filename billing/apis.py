"""REST API for billing: usage, invoices, Checkout and Customer Portal sessions; Stripe's webhook endpoint."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import validated_body
from core.fields import StrictSlugField, StrictURLField
from core.schema import error_statuses

from .selectors import account_settings_for, invoices_for, usage_summary_for
from .services import account_watermark_set
from .stripe.checkout import checkout_session_create, portal_session_create
from .stripe.webhooks import webhook_receive

_URL = {"type": "object", "properties": {"url": {"type": "string", "format": "uri"}}}


def _billing_page() -> str:
    return f"{settings.PUBLIC_BASE_URL}/billing/"


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
                "storage": serializers.DictField(child=serializers.IntegerField()),
            },
        ),
        description=(
            "This month's characters (granted, used, remaining), usage per day for the last 30 days, and the "
            "storage the account uses against its plan's quota (`used_bytes`, `quota_bytes`)."
        ),
    )
    def get(self, request):
        return Response(usage_summary_for(user=request.user))


_ACCOUNT = inline_serializer(
    "AccountSettings",
    {
        "plan": serializers.CharField(),
        "watermark_opt_in": serializers.BooleanField(),
        "watermarked": serializers.BooleanField(),
        "plan_watermarked": serializers.BooleanField(),
    },
)


class AccountApi(APIView):
    class InputSerializer(serializers.Serializer):
        watermark_opt_in = serializers.BooleanField()

        class Meta:
            ref_name = "AccountSettingsUpdate"

    @extend_schema(operation_id="account_retrieve", responses=_ACCOUNT)
    def get(self, request):
        return Response(account_settings_for(user=request.user))

    @extend_schema(
        operation_id="account_update",
        request=InputSerializer,
        responses=_ACCOUNT,
        description=(
            "`watermark_opt_in`: mark new audio with the provenance watermark (PerTh) even on a plan that does not. "
            "Free-plan audio is always marked (`plan_watermarked`); `watermarked` is what new audio gets. A field "
            "left out keeps its value."
        ),
    )
    def patch(self, request):
        data = validated_body(request, self.InputSerializer, partial=True)  # PATCH: every field optional
        if "watermark_opt_in" in data:
            account_watermark_set(user=request.user, opt_in=data["watermark_opt_in"])
        return Response(account_settings_for(user=request.user))


class InvoicesApi(APIView):
    @extend_schema(
        operation_id="billing_invoices_list",
        responses=inline_serializer("Invoices", {"results": serializers.ListField(child=serializers.DictField())}),
        description="The account's Stripe invoices, newest first, with links to view and download them.",
    )
    @error_statuses(502)
    def get(self, request):
        return Response({"results": invoices_for(user=request.user)})


class CheckoutApi(APIView):
    class InputSerializer(serializers.Serializer):
        plan = StrictSlugField(max_length=32)
        success_url = StrictURLField(required=False)
        cancel_url = StrictURLField(required=False)

        class Meta:
            ref_name = "CheckoutRequest"

    @extend_schema(
        operation_id="billing_checkout_create",
        request=InputSerializer,
        responses={201: _URL},
        description=(
            "Starts Stripe Checkout for a subscription to `plan`: send the customer to `url`. Errors: "
            "`payments_not_configured` (409, local mode), `plan_not_purchasable` (400), `subscription_exists` (409: "
            "change plans through the portal), `payment_provider_error` (502)."
        ),
    )
    @error_statuses(409, 502)
    def post(self, request):
        data = validated_body(request, self.InputSerializer)
        url = checkout_session_create(
            user=request.user,
            slug=data["plan"],
            success_url=data.get("success_url") or f"{_billing_page()}?checkout=success",
            cancel_url=data.get("cancel_url") or f"{_billing_page()}?checkout=cancelled",
        )
        return Response({"url": url}, status=201)


class PortalApi(APIView):
    class InputSerializer(serializers.Serializer):
        return_url = StrictURLField(required=False)

        class Meta:
            ref_name = "PortalRequest"

    @extend_schema(
        operation_id="billing_portal_create",
        request=InputSerializer,
        responses={201: _URL},
        description="A Stripe Customer Portal session (change plan or card, cancel, invoices). "
        "`no_subscription` (409) before the first Checkout.",
    )
    @error_statuses(409, 502)
    def post(self, request):
        data = validated_body(request, self.InputSerializer)
        url = portal_session_create(user=request.user, return_url=data.get("return_url") or _billing_page())
        return Response({"url": url}, status=201)


@extend_schema(exclude=True)
class StripeWebhookApi(APIView):
    """POST /stripe/webhook/: Stripe's deliveries. Signed, not authenticated; answers before processing."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []  # Stripe's retries come in bursts from few addresses; the signature is the gate

    def post(self, request):
        _trigger, event, queued = webhook_receive(request=request)
        return Response({"received": True, "event": event["id"], "duplicate": not queued})
