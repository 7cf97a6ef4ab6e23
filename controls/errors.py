"""Refusals decided by the controls: the operators' switches and the admission rules built on them."""

from rest_framework import status

from core.exceptions import ApplicationError


class MaintenanceMode(ApplicationError):
    """The operators' maintenance switch is on: no new jobs; queued ones still finish."""

    code = "maintenance"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class EngineDisabled(ApplicationError):
    code = "engine_disabled"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "This voice's speech engine is switched off for now. Try a built-in voice or try again later."


class CloningDisabled(ApplicationError):
    code = "cloning_disabled"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Voice cloning is switched off on this platform for now. Built-in voices still work."


class PlanForbidsCloning(ApplicationError):
    code = "plan_forbids_cloning"
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_message = "Your plan does not include voice cloning. Upgrade to Starter or above on the Billing page."


class IpBlocked(ApplicationError):
    code = "ip_blocked"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Requests from your network address are blocked."


class RateLimited(ApplicationError):
    code = "rate_limited"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
