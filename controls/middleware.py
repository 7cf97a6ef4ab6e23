"""Abuse controls at the edge: the IP blocklist (HTTP and websockets), automatic throttles, request counting.

Kept thin: the decisions live in `blocking` and `abuse`; this module only turns them into responses.
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpResponse, JsonResponse

from core.clientip import client_ip, client_ip_from_scope
from core.exceptions import error_body

from .abuse import request_subjects, requests_count, throttled_for
from .blocklist import ip_block_find
from .errors import IpBlocked, RateLimited

logger = logging.getLogger(__name__)

# Load balancers must always reach the liveness probe, whatever the blocklist says.
ALWAYS_ALLOWED = ("/health/live",)
# Paths whose clients read JSON errors rather than pages.
_API_PREFIXES = ("/v1/", "/stripe/", "/metrics", "/health")
# RFC 6455 close code 1008: policy violation.
WS_CLOSE_POLICY_VIOLATION = 1008


def _wants_json(request) -> bool:
    return request.path.startswith(_API_PREFIXES) or "application/json" in request.headers.get("Accept", "")


def _blocked_response(request) -> HttpResponse:
    message = IpBlocked.default_message
    if _wants_json(request):
        return JsonResponse(error_body(IpBlocked.code, message), status=IpBlocked.status_code)
    return HttpResponse(
        f"<!doctype html><title>403 Forbidden</title><h1>403 Forbidden</h1><p>{message}</p>",
        status=403,
        content_type="text/html; charset=utf-8",
    )


def _throttled_response(request, retry_after: int) -> HttpResponse:
    message = "Unusual request volume: requests are paused for a while. Try again later."
    if _wants_json(request):
        response = JsonResponse(
            error_body(RateLimited.code, message, {"reason": "abuse_throttle", "retry_after": retry_after}), status=429
        )
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response


def _claimed_api_key_subjects(request) -> list:
    """The key a request claims, by its prefix, for the throttle check only: a claimed key is not verified yet,
    so it is never counted, and a throttle is only ever set on a key that authenticated."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return []
    parts = header[7:].strip().split("_", 2)
    if len(parts) != 3 or not parts[1].isalnum() or len(parts[1]) > 16:
        return []
    return request_subjects(ip=None, api_key_prefix=parts[1])


class IpBlocklistMiddleware:
    """Refuse blocked addresses (403 `ip_blocked`) and throttled subjects (429); count every request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path in ALWAYS_ALLOWED:
            return self.get_response(request)
        ip = client_ip(request)
        if ip_block_find(ip) is not None:
            return _blocked_response(request)
        if settings.ABUSE_AUTO_THROTTLE:
            try:
                retry_after = throttled_for(request_subjects(ip=ip) + _claimed_api_key_subjects(request))
            except Exception:  # Redis down: serve the request; abuse controls must not take the site down
                logger.warning("abuse throttle check failed", exc_info=True)
                retry_after = 0
            if retry_after:
                return _throttled_response(request, retry_after)
        response = self.get_response(request)
        if not request.path.startswith(settings.STATIC_URL):
            # DRF sets request.auth to the ApiKey a request authenticated with (None for sessions).
            api_key = getattr(request, "auth", None)
            try:
                requests_count(request_subjects(ip=ip, api_key_prefix=getattr(api_key, "prefix", None)))
            except Exception:
                logger.warning("abuse request counting failed", exc_info=True)
        return response


class IpBlocklistAsgiMiddleware:
    """Websockets from a blocked address are refused during the handshake (close 1008 before accept: the
    client sees HTTP 403 and no socket opens)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            block = await database_sync_to_async(ip_block_find)(client_ip_from_scope(scope))
            if block is not None:
                message = await receive()
                if message["type"] == "websocket.connect":
                    await send({"type": "websocket.close", "code": WS_CLOSE_POLICY_VIOLATION})
                return
        return await self.inner(scope, receive, send)
