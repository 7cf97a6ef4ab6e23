"""Exceptions raised by the SDK. Every refusal of the API is an `APIError` carrying the server's error body."""

from __future__ import annotations

from typing import Any

import httpx


class OdiadevError(Exception):
    """The root of every exception this package raises."""


class ConfigurationError(OdiadevError):
    """The client cannot be built: no API key given and none in ODIADEV_API_KEY."""


class APIConnectionError(OdiadevError):
    """The server could not be reached (or stopped answering) after the retries allowed."""


class APIError(OdiadevError):
    """The API answered an error: `{"error": {"code", "message", "detail"}}` and its HTTP status.

    `code` is stable (match on it, not on `message`); `detail` holds field errors or figures such as `retry_after`.
    For a websocket refusal `status` is the HTTP status its close code mirrors (4401 -> 401)."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        detail: Any = None,
        headers: httpx.Headers | dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = httpx.Headers(headers or {})

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class WebhookVerificationError(OdiadevError):
    """A webhook delivery's signature is missing, malformed, wrong, or outside the time tolerance."""


def error_from_body(status: int, body: Any, headers: httpx.Headers | None = None, fallback: str = "") -> APIError:
    """The `APIError` for an error body; a body that is not ours (a proxy's HTML page) gets `http_<status>`."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return APIError(
            status=status,
            code=error["code"],
            message=str(error.get("message") or error["code"]),
            detail=error.get("detail"),
            headers=headers,
        )
    message = fallback.strip()[:200] or httpx.codes.get_reason_phrase(status) or "HTTP error"
    return APIError(status=status, code=f"http_{status}", message=message, headers=headers)


def error_from_response(response: httpx.Response) -> APIError:
    """The `APIError` for an error response whose body has been read."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return error_from_body(response.status_code, body, response.headers, fallback="" if body else response.text)
