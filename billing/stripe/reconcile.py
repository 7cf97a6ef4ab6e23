"""Operator review: acknowledging refund and dispute incidents, and the nightly reconciliation of each account's
subscription with Stripe's (differences are recorded, never applied)."""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.utils import timezone

from ..models import BillingAccount, PaymentIncident, Plan, ReconciliationMismatch, ReconciliationRun
from ..plans import DEFAULT_PLAN_SLUG
from .common import LIVE_STATUSES, expandable_id, payments_require

logger = logging.getLogger(__name__)


def incident_acknowledge(*, incident: PaymentIncident, by) -> PaymentIncident:
    PaymentIncident.objects.filter(pk=incident.pk).update(
        flagged=False, acknowledged_by=by, acknowledged_at=timezone.now()
    )
    incident.refresh_from_db()
    return incident


def subscriptions_reconcile() -> ReconciliationRun:
    """Compare each Stripe customer's subscription at Stripe with the account's subscription, status and plan;
    record every difference. Nothing is changed: an operator decides (the mismatches are listed in the admin)."""
    payments_require()
    run = ReconciliationRun.objects.create()
    checked = 0
    try:
        for account in BillingAccount.objects.exclude(stripe_customer_id="").select_related("plan").iterator():
            remote = stripe.Subscription.list(
                api_key=settings.STRIPE_SECRET_KEY, customer=account.stripe_customer_id, status="all", limit=20
            )
            _reconcile_account(run, account, [subscription.to_dict() for subscription in remote.data])
            checked += 1
    except stripe.StripeError as exc:
        run.error = f"{type(exc).__name__}: {exc}"[:2000]
        logger.warning("reconciliation stopped: %s", exc)
    run.accounts_checked = checked
    run.mismatch_count = run.mismatches.count()
    run.finished_at = timezone.now()
    run.save(update_fields=["accounts_checked", "mismatch_count", "finished_at", "error"])
    return run


def _reconcile_account(run: ReconciliationRun, account: BillingAccount, remote: list[dict]) -> None:
    live = sorted((s for s in remote if s.get("status") in LIVE_STATUSES), key=lambda s: s.get("created") or 0)
    newest = live[-1] if live else max(remote, key=lambda s: s.get("created") or 0, default=None)
    if newest is None:
        expected = {"subscription": "", "status": "", "plan": DEFAULT_PLAN_SLUG}
    else:
        items = (newest.get("items") or {}).get("data") or []
        price_id = expandable_id(items[0].get("price")) if items else ""
        plan = Plan.objects.filter(stripe_price_id=price_id).first()
        paid_plan = plan.slug if plan else f"(price {price_id})"
        expected = {
            "subscription": newest["id"],
            "status": newest.get("status", ""),
            "plan": paid_plan if newest.get("status") in LIVE_STATUSES else DEFAULT_PLAN_SLUG,
        }
    local = {
        "subscription": account.stripe_subscription_id,
        "status": account.subscription_status,
        "plan": account.plan.slug,
    }
    if len(live) > 1:
        local["live subscriptions"], expected["live subscriptions"] = "1", str(len(live))
    for field, stripe_value in expected.items():
        if local[field] != stripe_value:
            ReconciliationMismatch.objects.create(
                run=run,
                account=account,
                stripe_subscription_id=expected["subscription"],
                field=field,
                local_value=local[field],
                stripe_value=stripe_value,
            )
