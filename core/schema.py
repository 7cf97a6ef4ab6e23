"""The OpenAPI schema's error answers, declared in one place.

Every operation lists the statuses it can answer with our error body (`Error`): those any API request can meet
(403 a blocked address or CSRF, 429 rate limits, 503 an outage or maintenance), those its shape implies (401 with
authentication, 400/413/415 with a body or query, 404 with a path id or a page, 409 with an Idempotency-Key), and
the view's own, declared next to it with `@error_statuses(402, 409, ...)`. `AutoSchema` (REST_FRAMEWORK's
DEFAULT_SCHEMA_CLASS) adds them; a status a view documents itself is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

# Why each status is answered; the error's `code` says which case it is.
ERROR_DESCRIPTIONS = {
    400: "The request is not valid: `invalid_request`, `malformed_json`, or a field's own code.",
    401: "`authentication_failed`: no API key (or session), or a revoked or unknown one.",
    402: "The plan or the month's quota does not allow it: `quota_exceeded`, `plan_forbids_*`, "
    "`storage_quota_exceeded`.",
    403: "`permission_denied` (a session request without its CSRF token), `ip_blocked`, `account_blocked`, "
    "`cloning_disabled`.",
    404: "`not_found` (or the resource's own code, e.g. `voice_not_found`): no such object in this account, or a "
    "page past the last.",
    409: "A conflict with the current state (the code says which, e.g. `idempotency_key_reused`).",
    410: "`audio_expired`: the audio was deleted by the retention policy.",
    413: "`request_too_large`: the body is larger than this endpoint accepts.",
    415: "`unsupported_media_type`: send the body as the request's documented content type.",
    416: "The Range header asks for bytes the file does not have.",
    429: "`rate_limited` or `concurrency_limit`: too many requests; see Retry-After.",
    502: "An upstream failed: `synthesis_failed`, `payment_provider_error`.",
    503: "`service_unavailable`, `maintenance`, `engine_disabled`...: try again later (see Retry-After).",
    504: "`synthesis_timeout`: the job is still running; fetch it later by its id.",
}
ALWAYS = (403, 429, 503)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable: match on it.")
    message = serializers.CharField(help_text="For people; may change.")
    detail = serializers.JSONField(allow_null=True, help_text="Machine-readable specifics, or null.")
    param = serializers.CharField(
        required=False,
        help_text="POST /v1/audio/speech only: the request field at fault, by OpenAI's name (`input`, `voice`...).",
    )

    class Meta:
        ref_name = "ErrorBody"


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()

    class Meta:
        ref_name = "Error"


def error_statuses(*statuses: int) -> Callable:
    """Declare the error statuses a view method answers beyond those its shape implies (see the module)."""
    unknown = set(statuses) - set(ERROR_DESCRIPTIONS)
    if unknown:
        raise ValueError(f"no description for {sorted(unknown)}: add it to ERROR_DESCRIPTIONS")

    def mark(method):
        method.error_statuses = (*getattr(method, "error_statuses", ()), *statuses)
        return method

    return mark


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status in sorted(self._error_statuses(operation)):
            if str(status) not in responses:
                response = OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])
                responses[str(status)] = self._get_response_for_code(response, str(status), ["application/json"])
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_statuses(self, operation: dict) -> set[int]:
        statuses = set(ALWAYS)
        parameters = operation.get("parameters", [])
        if getattr(self.view, "authentication_classes", None):
            statuses.add(401)  # also where anonymous access is allowed: a bad key is refused, not ignored
        if "requestBody" in operation:
            statuses |= {400, 413, 415}
        if any(parameter["in"] in ("query", "header") for parameter in parameters):
            statuses.add(400)
        if any(parameter["in"] == "path" or parameter["name"] == "page" for parameter in parameters):
            statuses.add(404)
        if any(parameter["in"] == "header" and parameter["name"] == "Idempotency-Key" for parameter in parameters):
            statuses.add(409)
        method = getattr(self.view, self.method.lower(), None)
        statuses.update(getattr(method, "error_statuses", ()))
        return statuses
