"""Webhooks' routes under /v1/ (included by the root URL map in the `api` namespace)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("webhooks", apis.WebhookListApi.as_view(), name="webhooks"),
    path(
        "webhooks/deliveries/<uuid:delivery_id>/resend",
        apis.WebhookDeliveryResendApi.as_view(),
        name="webhook-delivery-resend",
    ),
    path("webhooks/<uuid:webhook_id>", apis.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:webhook_id>/rotate-secret",
        apis.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<uuid:webhook_id>/test", apis.WebhookTestApi.as_view(), name="webhook-test"),
    path(
        "webhooks/<uuid:webhook_id>/deliveries",
        apis.WebhookDeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
]
