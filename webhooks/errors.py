"""Webhook errors with stable codes."""

from rest_framework import status

from core.exceptions import ApplicationError, NotFound


class WebhookUrlInvalid(ApplicationError):
    code = "webhook_url_invalid"
    default_message = "Give the full URL of your endpoint, like https://example.com/hooks/odiadev."


class WebhookUrlForbidden(ApplicationError):
    """The URL's scheme or one of the addresses its host resolves to may not be called from our servers."""

    code = "webhook_url_forbidden"
    default_message = (
        "Webhooks go only to public HTTPS addresses: this URL uses another scheme or its host resolves to a "
        "loopback, private, link-local, multicast or reserved address."
    )


class WebhookUrlUnresolvable(ApplicationError):
    code = "webhook_url_unresolvable"
    default_message = "The host of this URL does not resolve to any address. Check its DNS records."


class WebhookEventsInvalid(ApplicationError):
    code = "webhook_events_invalid"


class WebhookEndpointLimit(ApplicationError):
    code = "webhook_endpoint_limit"
    status_code = status.HTTP_409_CONFLICT


class WebhookNotFound(NotFound):
    default_message = "Webhook endpoint not found."


class WebhookDeliveryNotFound(NotFound):
    default_message = "Webhook delivery not found."
