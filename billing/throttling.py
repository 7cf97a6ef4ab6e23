"""The API's rate limit: the plan's requests per minute per key and per user, and the address's, in one atomic
check (`controls.ratelimit`)."""

from __future__ import annotations

from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from controls.ratelimit import READ_METHODS, limits_for, ratelimit_hit
from core.clientip import client_ip

from .selectors import plan_for


def plan_requests_per_minute(user) -> int | None:
    """The plan's requests per minute, cached briefly (one lookup per user every few seconds, not per request);
    None for an anonymous user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    cache_key = f"rl-plan:{user.pk}"
    rpm = cache.get(cache_key)
    if rpm is None:
        rpm = plan_for(user=user).requests_per_minute
        cache.set(cache_key, rpm, timeout=5)
    return int(rpm)


def request_limits(*, ip: str | None, user=None, api_key=None, write: bool) -> dict[str, int]:
    """Every limit one request from `user` (through `api_key`, if any) at `ip` counts against."""
    return limits_for(
        ip=ip, write=write, user=user, api_key=api_key, requests_per_minute=plan_requests_per_minute(user)
    )


class PlanRateThrottle(BaseThrottle):
    """DRF throttle for /v1: the key's, the user's and the IP's limits in one atomic check."""

    def allow_request(self, request, view) -> bool:
        api_key = request.auth if hasattr(request.auth, "pk") else None
        self.verdict = ratelimit_hit(
            request_limits(
                ip=client_ip(request), user=request.user, api_key=api_key, write=request.method not in READ_METHODS
            )
        )
        return self.verdict.allowed

    def wait(self) -> float:
        return self.verdict.retry_after
