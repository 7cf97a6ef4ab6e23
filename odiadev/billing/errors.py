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


def voice_slots_exhausted(slots: int) -> PlanForbids:
    return PlanForbids(
        f"Your plan allows {slots} cloned voice{'s' if slots != 1 else ''}. Delete one or upgrade your plan.",
        code="plan_forbids_more_voices",
        detail={"slots": slots},
    )
