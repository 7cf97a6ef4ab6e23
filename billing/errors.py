from rest_framework import status

from core.exceptions import ApplicationError


class PlanForbids(ApplicationError):
    """The account's plan lacks a feature; `code` is `plan_forbids_<feature>`."""

    code = "plan_forbids_feature"
    status_code = status.HTTP_402_PAYMENT_REQUIRED


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


class StorageQuotaExceeded(ApplicationError):
    code = "storage_quota_exceeded"
    status_code = status.HTTP_402_PAYMENT_REQUIRED


def storage_quota_exceeded(*, used_bytes: int, quota_bytes: int, plan) -> StorageQuotaExceeded:
    mb = 1024 * 1024
    return StorageQuotaExceeded(
        f"Your account stores {used_bytes / mb:.1f} MB of audio and voice samples; the {plan.name} plan allows "
        f"{quota_bytes / mb:.0f} MB. Audio older than {plan.audio_retention_days} days is deleted automatically. "
        "To continue now, delete cloned voices you no longer need or upgrade your plan on the Billing page.",
        detail={"used_bytes": used_bytes, "quota_bytes": quota_bytes},
    )


class ConcurrencyLimit(ApplicationError):
    code = "concurrency_limit"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class PaymentsNotConfigured(ApplicationError):
    code = "payments_not_configured"
    status_code = status.HTTP_409_CONFLICT
    default_message = (
        "Payments are not configured on this server (no Stripe keys): an operator assigns plans in the admin."
    )


class PlanNotPurchasable(ApplicationError):
    code = "plan_not_purchasable"
    default_message = "This plan cannot be bought online."


class SubscriptionExists(ApplicationError):
    code = "subscription_exists"
    status_code = status.HTTP_409_CONFLICT


class NoSubscription(ApplicationError):
    code = "no_subscription"
    status_code = status.HTTP_409_CONFLICT
    default_message = "You have no subscription to manage yet: choose a plan on the Billing page first."


class PaymentProviderError(ApplicationError):
    code = "payment_provider_error"
    status_code = status.HTTP_502_BAD_GATEWAY
    default_message = "Stripe could not be reached just now. Nothing was charged; please try again."


class InvalidWebhook(ApplicationError):
    """A webhook whose signature or body does not check out: refused with no effect."""

    code = "invalid_signature"


class InvalidWebhookPayload(InvalidWebhook):
    """Correctly signed (or not yet checked) but not a Stripe event we can read."""

    code = "invalid_payload"
