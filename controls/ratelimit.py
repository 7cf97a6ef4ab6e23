"""Rate limits per API key, per user and per client IP, enforced atomically in Redis.

Each limit is a sliding window of 60 s: at most N requests in *any* 60 s, so a burst of 500 simultaneous requests
against a limit of 100 admits exactly 100, whatever the timing. One Lua script checks every limit that applies to a
request and records the request in all of them only if all admit it, so a refused request uses no allowance and
parallel requests cannot slip between the check and the write.

Limits (per minute):
- writes (POST/PUT/PATCH/DELETE to the API: synthesis, uploads...): the plan's `requests_per_minute`, per key and
  per user (a user's keys share the user's allowance);
- reads (GET/HEAD, websocket connects): `RATE_LIMIT_READ_MULTIPLIER` times that, so clients can poll job status;
- every request from one IP (API, dashboard, login, websocket): `RATE_LIMIT_PER_IP_PER_MINUTE`.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.http import JsonResponse
from django_redis import get_redis_connection

from core.clientip import client_ip
from core.exceptions import error_body
from core.private import scraper_allowed

from .errors import RateLimited
from .limits import LimitName, limit_value

logger = logging.getLogger(__name__)

WINDOW_MS = 60_000
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# Paths never limited: the liveness probe, Stripe's signed deliveries, static files.
EXEMPT_PREFIXES = ("/health/live", "/stripe/webhook/", "/static/")
# The private operational endpoints (core.private): not limited for our scrapers; anyone else's request counts.
SCRAPED_PATHS = ("/health", "/metrics")

_SCRIPT = """
local now_ms
local t = redis.call('TIME')
now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local member = ARGV[2]
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local key_wait = window
    if oldest[2] then key_wait = window - (now_ms - tonumber(oldest[2])) end
    if key_wait > wait then wait = key_wait end
  end
end
if wait > 0 then return {0, wait} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now_ms, member)
  redis.call('PEXPIRE', key, window)
end
return {1, 0}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds, 0 when allowed

    def body(self) -> dict:
        return error_body(
            RateLimited.code,
            f"Too many requests. Try again in {self.retry_after} s, or upgrade for a higher limit.",
            {"retry_after": self.retry_after},
        )

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=429)
        response["Retry-After"] = str(self.retry_after)
        return response


def _key(*parts) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, "rl", *(str(part) for part in parts)])


def ratelimit_hit(limits: dict[str, int]) -> Verdict:
    """Record one request against every `{key: limit}` if all admit it; else record nothing and say how long
    to wait. A limit of 0 refuses everything."""
    if not limits or not settings.RATE_LIMITS_ENABLED:
        return Verdict(True, 0)
    keys = list(limits)
    try:
        script = get_redis_connection("default").register_script(_SCRIPT)
        allowed, wait_ms = script(keys=keys, args=[WINDOW_MS, uuid.uuid4().hex, *(limits[key] for key in keys)])
    except Exception:  # Redis unreachable: serve the request (a limiter must not take the site down with it)
        logger.warning("rate limits unavailable: Redis unreachable", exc_info=True)
        return Verdict(True, 0)
    return Verdict(bool(allowed), 0 if allowed else max(1, math.ceil(int(wait_ms) / 1000)))


def limits_for(
    *, ip: str | None, write: bool, user=None, api_key=None, requests_per_minute: int | None = None
) -> dict[str, int]:
    """The limits that apply to one request: the address's, and with a signed-in `user` the user's and the key's
    at `requests_per_minute` (the caller's plan, looked up by the caller: controls knows no plans)."""
    limits = {}
    if ip:
        limits[_key("ip", ip)] = limit_value(LimitName.RATE_LIMIT_PER_IP_PER_MINUTE)
    if user is not None and getattr(user, "is_authenticated", False) and requests_per_minute is not None:
        rpm = int(requests_per_minute)
        scope, limit = ("write", rpm) if write else ("read", rpm * limit_value(LimitName.RATE_LIMIT_READ_MULTIPLIER))
        limits[_key("user", user.pk, scope)] = limit
        if api_key is not None:
            limits[_key("key", api_key.pk, scope)] = limit
    return limits


class IpRateLimitMiddleware:
    """The per-IP limit for everything outside the API (dashboard, login, admin); the API's throttle counts the
    IP itself, in the same atomic check as the key and the user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        exempt = path.startswith(EXEMPT_PREFIXES) or (path in SCRAPED_PATHS and scraper_allowed(request))
        if not path.startswith("/v1/") and not exempt:
            verdict = ratelimit_hit(limits_for(ip=client_ip(request), write=False))
            if not verdict.allowed:
                return verdict.response()
        return self.get_response(request)
