"""The HTTP side of a webhook delivery: sign it, resolve and check the endpoint's host again, and POST to one of the
checked addresses only (the name is never resolved a second time, see `targets`), reading only the first bytes of
the answer. No database writes here: the caller records the attempt."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from core.exceptions import ApplicationError

from .models import WebhookDelivery, WebhookEndpoint
from .signing import DELIVERY_ID_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header
from .targets import target_resolve

RESPONSE_BODY_PREFIX = 512
# Addresses of one host tried in turn when the connection is refused (each may take WEBHOOK_CONNECT_TIMEOUT).
MAX_ADDRESSES_TRIED = 3


@dataclass
class AttemptResult:
    url: str
    ip: str | None = None
    status_code: int | None = None
    error_code: str = ""
    error: str = ""
    response_ms: int | None = None
    response_body: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def endpoint_signing_secrets(endpoint: WebhookEndpoint, *, now=None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one during its grace period."""
    now = now or timezone.now()
    secrets_ = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets_.append(endpoint.previous_secret)
    return secrets_


def _body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_post(delivery: WebhookDelivery) -> AttemptResult:
    """POST the delivery to the endpoint's current URL, after checking where it resolves to now, connecting to the
    checked address only. No redirect is followed; only the first bytes of the answer are read."""
    endpoint = delivery.endpoint
    result = AttemptResult(url=endpoint.url)
    try:
        target = target_resolve(endpoint.url)
    except ApplicationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {}
        reason = ", ".join(f"{k} {v}" for k, v in detail.items())
        result.error_code, result.error = exc.code, f"{exc.message} ({reason})" if reason else exc.message
        return result
    body = _body(delivery.payload)
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
        "User-Agent": f"ODIADEV-Webhooks/{settings.VERSION}",
        EVENT_ID_HEADER: delivery.event_id,
        EVENT_TYPE_HEADER: delivery.event_type,
        DELIVERY_ID_HEADER: str(delivery.id),
        SIGNATURE_HEADER: signature_header(
            secrets=endpoint_signing_secrets(endpoint), timestamp=int(time.time()), body=body
        ),
    }
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
    timeout = httpx.Timeout(settings.WEBHOOK_READ_TIMEOUT, connect=settings.WEBHOOK_CONNECT_TIMEOUT)
    started = time.monotonic()
    try:
        # trust_env=False: no proxy from the environment, which would connect by name and undo the pinning.
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            # Each checked address in turn (a host may publish an IPv6 address it does not serve), none unchecked.
            addresses = target.addresses[:MAX_ADDRESSES_TRIED]
            for index, address in enumerate(addresses):
                result.ip = address
                request = client.build_request(
                    "POST", target.pinned_url(address), content=body, headers=headers, extensions=extensions
                )
                try:
                    response = client.send(request, stream=True)
                except httpx.ConnectError:
                    if index == len(addresses) - 1:
                        raise
                    continue
                try:
                    result.status_code = response.status_code
                    result.response_body = _body_prefix(response, deadline=started + settings.WEBHOOK_READ_TIMEOUT)
                finally:
                    response.close()
                break
    except httpx.TimeoutException as exc:
        result.error_code, result.error = "timeout", f"{type(exc).__name__}: {exc}"
    except SoftTimeLimitExceeded:  # a server dripping its headers byte by byte: the task's own limit stops it
        result.error_code, result.error = "timeout", "The endpoint took longer than the attempt's time limit."
    except httpx.HTTPError as exc:
        result.error_code, result.error = "connection_error", f"{type(exc).__name__}: {exc}"
    result.response_ms = round((time.monotonic() - started) * 1000)
    if result.status_code is not None and not result.ok:
        result.error_code = "redirect_not_followed" if 300 <= result.status_code < 400 else "http_error"
        result.error = f"HTTP {result.status_code}" + (
            f" to {response.headers.get('location', '')}" if result.error_code == "redirect_not_followed" else ""
        )
    return result


def _body_prefix(response: httpx.Response, *, deadline: float) -> str:
    """The first RESPONSE_BODY_PREFIX bytes of the answer; a huge or slowly dripping body is not waited for."""
    data = b""
    try:
        for chunk in response.iter_raw():
            data += chunk
            if len(data) >= RESPONSE_BODY_PREFIX or time.monotonic() > deadline:
                break
    except httpx.HTTPError:
        pass  # the status code already came; the body is only for the log
    return data[:RESPONSE_BODY_PREFIX].decode("utf-8", errors="replace")
