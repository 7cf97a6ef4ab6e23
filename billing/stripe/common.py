"""What the Stripe modules share: whether payments are configured, subscription statuses, and reading Stripe's
fields (timestamps, expandable ids)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings

from ..errors import PaymentsNotConfigured

# Subscription statuses that keep the paid plan (past_due: Stripe is still retrying the card).
LIVE_STATUSES = {"active", "trialing", "past_due"}


def payments_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def payments_require() -> None:
    """Refuse (`payments_not_configured`) on a server without Stripe keys (local mode)."""
    if not payments_configured():
        raise PaymentsNotConfigured()


def stripe_time(value) -> datetime | None:
    """Stripe's Unix timestamps (or dj-stripe's datetimes) as aware datetimes."""
    if value in (None, ""):
        return None
    return value if isinstance(value, datetime) else datetime.fromtimestamp(int(value), UTC)


def expandable_id(value) -> str:
    """An expandable Stripe field: an id, or the object itself."""
    if isinstance(value, str) or value is None:
        return value or ""
    return value.get("id") or ""
