"""Helpers for the apps' DRF views: a JSON body validated by a serializer, and audio views whose errors are JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from .exceptions import ApplicationError, InvalidRequest


def validated_body(
    request: Request,
    serializer_class: type[serializers.Serializer],
    *,
    partial: bool = False,
    field_errors: Mapping[str, Callable[..., ApplicationError]] | None = None,
    error: Callable[..., ApplicationError] = InvalidRequest,
    message: str | None = "Some fields are not valid.",
) -> dict[str, Any]:
    """The serializer's validated data for a request whose body must be a JSON object.

    Any other body (a list, a string) is `invalid_request` "The body must be a JSON object.". When fields fail, the
    first failed field named in `field_errors` (in its order) raises `field_errors[field](detail={field: errors})`,
    so a malformed field keeps its own stable code; otherwise `error(message, detail=serializer.errors)` is raised
    (`message=None`: the error's default message).
    """
    return validated_data(
        request.data, serializer_class, partial=partial, field_errors=field_errors, error=error, message=message
    )


def validated_data(
    data: Any,
    serializer_class: type[serializers.Serializer],
    *,
    partial: bool = False,
    field_errors: Mapping[str, Callable[..., ApplicationError]] | None = None,
    error: Callable[..., ApplicationError] = InvalidRequest,
    message: str | None = "Some fields are not valid.",
) -> dict[str, Any]:
    """`validated_body` for a JSON document from elsewhere (a websocket message): the same checks and errors."""
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    serializer = serializer_class(data=data, partial=partial)
    if not serializer.is_valid():
        errors = serializer.errors
        for field, field_error in (field_errors or {}).items():
            if field in errors:
                raise field_error(detail={field: errors[field]})
        raise error(message, detail=errors)
    return serializer.validated_data


class AudioResponseMixin:
    """For API views that answer with audio bytes (a file or streaming response, which no renderer touches) and
    fail with our JSON error body.

    Audio clients send `Accept: audio/*` and OpenAI's sends `Accept: application/octet-stream`; negotiating on that
    header would answer 406 where an error body is due. So the renderer is always JSON, whatever the header says.
    """

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type
