"""What the sync and async clients share: configuration, the request description, and the retry rule."""

from __future__ import annotations

import email.utils
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from .errors import ConfigurationError

API_KEY_ENV = "ODIADEV_API_KEY"
BASE_URL_ENV = "ODIADEV_BASE_URL"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 60.0
USER_AGENT = "odiadev-sdk-python/0.1.0"

# 429 and 503 are refusals before any work (rate limit, quota of concurrent jobs, a backend away): safe to repeat
# for any request. 502/504 and lost connections may hide work already done, so only idempotent requests repeat.
ALWAYS_RETRY = frozenset({429, 503})
IDEMPOTENT_RETRY = frozenset({502, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

Expect = Literal["json", "bytes", "none"]


def resolve_config(api_key: str | None, base_url: str | None) -> tuple[str, str]:
    """The API key and base URL from the arguments, else from ODIADEV_API_KEY / ODIADEV_BASE_URL."""
    key = api_key or os.environ.get(API_KEY_ENV, "")
    if not key:
        raise ConfigurationError(f"No API key: pass api_key= or set {API_KEY_ENV}.")
    url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    return key, url


def default_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}


def new_idempotency_key() -> str:
    return f"sdk-{uuid.uuid4()}"


@dataclass
class Request:
    """One API call, described once so that each retry sends the same thing (same Idempotency-Key, same files)."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: Expect = "json"

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT_METHODS or "Idempotency-Key" in self.headers

    def httpx_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": self.headers}
        if self.params:
            kwargs["params"] = {k: v for k, v in self.params.items() if v is not None}
        if self.json is not None:
            kwargs["json"] = self.json
        if self.data is not None:
            kwargs["data"] = {k: v for k, v in self.data.items() if v is not None}
        if self.files is not None:
            kwargs["files"] = self.files
        return kwargs


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the fields given (None means 'not sent', so the server's default applies)."""
    return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True)
class RetryPolicy:
    """Up to `max_retries` repeats with exponential backoff and jitter; a `Retry-After` header wins over the
    backoff. A Retry-After longer than `max_retry_after` is not waited for: the error is raised at once."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def backoff_delay(self, attempt: int) -> float:
        delay: float = min(self.max_backoff, self.backoff * (2**attempt))
        return delay * (0.5 + random.random() / 2)

    def delay_for_status(self, response: httpx.Response, attempt: int, *, idempotent: bool) -> float | None:
        """Seconds to wait before repeating this answered request, or None not to repeat it."""
        status = response.status_code
        if attempt >= self.max_retries:
            return None
        if status not in ALWAYS_RETRY and not (idempotent and status in IDEMPOTENT_RETRY):
            return None
        after = parse_retry_after(response.headers.get("retry-after"))
        if after is None:
            return self.backoff_delay(attempt)
        return after if after <= self.max_retry_after else None

    def delay_for_error(self, attempt: int, *, idempotent: bool) -> float | None:
        """Seconds to wait before repeating a request that got no answer, or None not to repeat it."""
        if not idempotent or attempt >= self.max_retries:
            return None
        return self.backoff_delay(attempt)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def read_upload(source: Any, default_name: str, content_type: str) -> tuple[str, bytes, str]:
    """An upload as (filename, bytes, type) from a path, bytes, or a binary file object, read once up front so
    that a retry sends it again."""
    if isinstance(source, bytes | bytearray):
        return default_name, bytes(source), content_type
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            return os.path.basename(os.fspath(source)), handle.read(), content_type_for(os.fspath(source), content_type)
    name = os.path.basename(getattr(source, "name", "") or default_name)
    return name, source.read(), content_type_for(name, content_type)


_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "audio/webm",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
}


def content_type_for(name: str, default: str) -> str:
    return _TYPES.get(os.path.splitext(name)[1].lower(), default)


def ws_url(base_url: str, path: str = "/ws/jobs/") -> str:
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://") :] + path
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://") :] + path
    return base_url + path
