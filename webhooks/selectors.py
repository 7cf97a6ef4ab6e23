"""Reads for webhooks, always scoped to the account: another account's endpoint or delivery is simply not found."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .errors import WebhookDeliveryNotFound, WebhookNotFound
from .models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list_for(*, user) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(user=user).order_by("-created_at")


def webhook_endpoint_get_for(*, user, endpoint_id) -> WebhookEndpoint:
    try:
        return WebhookEndpoint.objects.get(user=user, pk=endpoint_id)
    except (WebhookEndpoint.DoesNotExist, ValidationError, ValueError) as exc:
        raise WebhookNotFound() from exc


def webhook_delivery_list_for(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return endpoint.deliveries.order_by("-created_at").prefetch_related("attempt_log")


def webhook_delivery_get_for(*, user, delivery_id) -> WebhookDelivery:
    try:
        return WebhookDelivery.objects.select_related("endpoint").get(endpoint__user=user, pk=delivery_id)
    except (WebhookDelivery.DoesNotExist, ValidationError, ValueError) as exc:
        raise WebhookDeliveryNotFound() from exc
