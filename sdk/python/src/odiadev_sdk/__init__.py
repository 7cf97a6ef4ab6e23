"""Python client for the ODIADEV-TTS API: `Client`, `AsyncClient`, webhook verification, and the `odiadev` CLI."""

from ._base import API_KEY_ENV, BASE_URL_ENV, RetryPolicy
from ._client import AsyncClient, Client
from .errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    OdiadevError,
    WebhookVerificationError,
)
from .resources import OPERATIONS
from .webhooks import SIGNATURE_HEADER, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "OPERATIONS",
    "SIGNATURE_HEADER",
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "Client",
    "ConfigurationError",
    "OdiadevError",
    "RetryPolicy",
    "WebhookVerificationError",
    "verify_webhook",
]
