"""One error root for the whole product, and the DRF handler that renders every API error the same way.

Every error a client can see is `{"error": {"code", "message", "detail"}}` with a stable `code`. Apps subclass
`ApplicationError` with their own codes; the dashboard shows the same `message`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """An error the client caused or must know about; `code` is stable API, `message` is for people."""

    code = "application_error"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "The request could not be completed."
    retry_after: int | None = None  # seconds; sent as the Retry-After header when set
    # The request field at fault, rendered as the body's `param` when set (the OpenAI-compatible endpoint sets it:
    # OpenAI's clients expose it as the error's `param`).
    param: str | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.detail = detail
        super().__init__(self.message)


class InvalidRequest(ApplicationError):
    code = "invalid_request"
    default_message = "The request is not valid."


class NotFound(ApplicationError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "Not found."


class ServiceUnavailable(ApplicationError):
    code = "service_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The service is temporarily unavailable. Try again shortly."
    retry_after = 5


# Redis (cache, rate limits, switches, channel layer) or the broker out of reach: the client may retry, we are not
# broken. `ConnectionInterrupted` is django-redis's wrapper; its cause says whether it was the connection.
_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, BrokerUnavailable)


def is_backend_outage(exc: BaseException | None) -> bool:
    """True when `exc` means Redis or the broker cannot be reached (not a bug in how we use them)."""
    if isinstance(exc, ConnectionInterrupted):
        return isinstance(exc.__cause__, (*_OUTAGE_ERRORS, OSError))  # socket.timeout is an OSError
    return isinstance(exc, _OUTAGE_ERRORS)


def service_unavailable_from(exc: BaseException) -> ServiceUnavailable | None:
    """The API error for a Redis or broker outage, or None when `exc` is something else."""
    if not is_backend_outage(exc):
        return None
    logger.warning("a request found Redis or the broker unavailable: %s", exc)
    return ServiceUnavailable()


class AudioInvalid(ApplicationError):
    """An uploaded recording (a voice sample, a consent statement, a file to verify) that cannot be used; `code`
    is one of the `audio_*` codes."""

    code = "audio_unreadable"


class AudioTooLarge(AudioInvalid):
    code = "audio_too_large"
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail}}


# DRF's own exceptions, mapped to our stable codes.
_DRF_CODES: list[tuple[type[Exception], str, str]] = [
    (drf_exceptions.ParseError, "malformed_json", "The request body is not valid JSON."),
    (drf_exceptions.UnsupportedMediaType, "unsupported_media_type", "Send the body as application/json."),
    (drf_exceptions.NotAuthenticated, "authentication_failed", "Authentication credentials were not provided."),
    (drf_exceptions.AuthenticationFailed, "authentication_failed", "Invalid or revoked API key."),
    (drf_exceptions.PermissionDenied, "permission_denied", "You may not do this."),
    (drf_exceptions.NotFound, "not_found", "Not found."),
    (drf_exceptions.MethodNotAllowed, "method_not_allowed", "Method not allowed."),
    (drf_exceptions.NotAcceptable, "not_acceptable", "Cannot produce the requested content type."),
    (drf_exceptions.Throttled, "rate_limited", "Too many requests."),
    (drf_exceptions.ValidationError, "invalid_request", "The request is not valid."),
]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render any exception raised in an API view as our error body; unknown exceptions stay 500s."""
    exc = service_unavailable_from(exc) or exc
    if isinstance(exc, ApplicationError):
        body = error_body(exc.code, exc.message, exc.detail)
        if exc.param:
            body["error"]["param"] = exc.param
        response = Response(body, status=exc.status_code)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("request_too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if not isinstance(exc, drf_exceptions.APIException):
        return None
    code, message = "api_error", str(exc.detail)
    for exc_type, mapped_code, mapped_message in _DRF_CODES:
        if isinstance(exc, exc_type):
            code, message = mapped_code, mapped_message
            break
    detail = exc.detail if isinstance(exc, drf_exceptions.ValidationError) else None
    if isinstance(exc, drf_exceptions.ParseError | drf_exceptions.AuthenticationFailed):
        message = str(exc.detail) or message
    response = Response(error_body(code, message, detail), status=exc.status_code)
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    if getattr(exc, "wait", None):
        response["Retry-After"] = str(int(exc.wait))
    return response


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_server_error(request):
    return JsonResponse(
        error_body("internal_error", "Something went wrong on our side. It has been logged."), status=500
    )
