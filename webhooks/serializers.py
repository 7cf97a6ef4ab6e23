"""The public shapes of webhook endpoints, deliveries and attempts (API and dashboard)."""

from rest_framework import serializers

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    secret_hint = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        ref_name = "WebhookEndpoint"
        fields = ["id", "url", "description", "events", "secret_hint", "secret_rotated_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_secret_hint(self, endpoint) -> str:
        return f"{endpoint.secret[:10]}…"


class WebhookAttemptOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        ref_name = "WebhookAttempt"
        fields = [
            "number",
            "created_at",
            "url",
            "ip_address",
            "status_code",
            "error_code",
            "error",
            "response_ms",
            "response_body",
        ]
        read_only_fields = fields


class WebhookDeliveryOutputSerializer(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(source="endpoint_id")
    attempt_log = WebhookAttemptOutputSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        ref_name = "WebhookDelivery"
        fields = [
            "id",
            "webhook_id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "last_response_ms",
            "delivered_at",
            "created_at",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields
