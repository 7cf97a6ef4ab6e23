from rest_framework import status

from odiadev.core.exceptions import ApplicationError


class PlanForbids(ApplicationError):
    """The account's plan lacks a feature; `code` is `plan_forbids_<feature>`."""

    code = "plan_forbids_feature"
    status_code = status.HTTP_402_PAYMENT_REQUIRED


def plan_forbids_cloning() -> PlanForbids:
    return PlanForbids(
        "Your plan does not include voice cloning. Upgrade to Starter or above on the Billing page.",
        code="plan_forbids_cloning",
    )


def plan_forbids_format(fmt: str, allowed: list[str], plan_name: str) -> PlanForbids:
    return PlanForbids(
        f"The {plan_name} plan delivers {', '.join(allowed)}; {fmt} needs a higher plan (Billing page).",
        code="plan_forbids_format",
        detail={"format": fmt, "allowed": allowed},
    )


def voice_slots_exhausted(slots: int) -> PlanForbids:
    return PlanForbids(
        f"Your plan allows {slots} cloned voice{'s' if slots != 1 else ''}. Delete one or upgrade your plan.",
        code="plan_forbids_more_voices",
        detail={"slots": slots},
    )


class QuotaExceeded(ApplicationError):
    code = "quota_exceeded"
    status_code = status.HTTP_402_PAYMENT_REQUIRED


class ConcurrencyLimit(ApplicationError):
    code = "concurrency_limit"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
