"""Browser hardening headers: Content-Security-Policy (django-csp) and Permissions-Policy, one home for both.

The policies themselves are settings (`CONTENT_SECURITY_POLICY`, `PERMISSIONS_POLICY`); a view that needs more
(the Voices page records from the microphone) says so with a decorator next to it, `@permissions_policy(...)` or
django-csp's `@csp_update(...)`, so every exception is visible where it is made.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.deprecation import MiddlewareMixin

PERMISSIONS_POLICY_HEADER = "Permissions-Policy"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, plus this host's own websocket origin in `connect-src`.

    CSP level 3 lets `'self'` match `ws:`/`wss:` of the page's host, but browsers that predate it (older Safari)
    refuse the dashboard's live job socket; naming the exact origin works everywhere and allows no other host.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        try:
            host = request.get_host()
        except DisallowedHost:
            return parts
        origin = f"{'wss' if request.is_secure() else 'ws'}://{host}"
        update = dict(parts.update or {})
        update["connect-src"] = [*_as_list(update.get("connect-src")), origin]
        parts.update = update
        return parts


def _as_list(value) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def permissions_policy(**features: list[str] | str) -> Callable:
    """Let a view's page use browser features the default `PERMISSIONS_POLICY` turns off.

    `@permissions_policy(microphone=["self"])`; a feature name's dashes are written as underscores
    (`display_capture=...`).
    """
    override = {name.replace("_", "-"): _as_list(origins) for name, origins in features.items()}

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args: Any, **kwargs: Any):
            response = view(request, *args, **kwargs)
            response._permissions_policy = {**getattr(response, "_permissions_policy", {}), **override}
            return response

        return wrapped

    return decorator


def permissions_policy_header(overrides: dict[str, list[str]] | None = None) -> str:
    """`camera=(), microphone=(self)`: each feature of the policy with the origins allowed to use it."""
    policy = {**settings.PERMISSIONS_POLICY, **(overrides or {})}
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in policy.items())


class PermissionsPolicyMiddleware(MiddlewareMixin):
    """Send `Permissions-Policy` on every response: features off unless a view's decorator allows them."""

    def process_response(self, request, response):
        if PERMISSIONS_POLICY_HEADER not in response:
            overrides = getattr(response, "_permissions_policy", None)
            response[PERMISSIONS_POLICY_HEADER] = permissions_policy_header(overrides)
        return response
