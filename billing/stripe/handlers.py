"""The product's effect of each Stripe event (plan, revenue, refund, dispute), applied once per event id: the
`StripeEventEffect` row is written in the same transaction as the effect, and a duplicate finds it. Handlers read
the objects as dj-stripe re-synced them from Stripe while processing the event, not the event's snapshot."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from djstripe import models as djstripe_models

from ..models import BillingAccount, IncidentKind, PaymentIncident, Plan, RevenueEntry, RevenueKind, StripeEventEffect
from ..plans import DEFAULT_PLAN_SLUG
from ..services import account_lock, plan_assign
from .common import LIVE_STATUSES, expandable_id, stripe_time

logger = logging.getLogger(__name__)

# Subscription statuses that end the paid plan.
ENDED_STATUSES = {"canceled", "unpaid", "incomplete_expired", "paused"}
DISPUTE_CLOSED_STATUSES = {"won", "lost", "warning_closed"}


def stripe_event_apply(*, event: djstripe_models.Event) -> str:
    """Apply the product's effect of one Stripe event, exactly once per event id."""
    handler = EVENT_HANDLERS.get(event.type)
    with transaction.atomic():
        effect, created = StripeEventEffect.objects.get_or_create(
            event_id=event.id,
            defaults={"type": event.type, "stripe_created": stripe_time(event.created) or timezone.now()},
        )
        if not created:
            return "duplicate"
        account, outcome = handler(event) if handler else (None, "ignored")
        effect.account = account
        effect.outcome = outcome[:255]
        effect.save(update_fields=["account", "outcome"])
    logger.info("stripe event %s (%s): %s", event.id, event.type, outcome)
    return outcome


# --- finding the account ---------------------------------------------------------------------------------------
def _account_for(*, customer_id: str = "", user_id: str | None = None) -> BillingAccount | None:
    """The account a Stripe object belongs to, locked: by customer id, else the dj-stripe customer's subscriber,
    else the user id our Checkout put in the metadata. Links the customer to the account when first seen."""
    user = None
    account = BillingAccount.objects.filter(stripe_customer_id=customer_id).first() if customer_id else None
    if account is not None:
        user = account.user
    elif customer_id and (customer := djstripe_models.Customer.objects.filter(id=customer_id).first()):
        user = customer.subscriber
    if user is None and user_id and str(user_id).isdigit():
        user = get_user_model().objects.filter(pk=int(user_id)).first()
    if user is None:
        return None
    account = account_lock(user=user)
    if customer_id and not account.stripe_customer_id:
        account.stripe_customer_id = customer_id
        account.save(update_fields=["stripe_customer_id", "updated_at"])
    return account


def _stripe_data(model, object_id: str) -> dict:
    """The object as dj-stripe last synced it from Stripe (re-read while processing this event)."""
    obj = model.objects.filter(id=object_id).first()
    return obj.stripe_data if obj is not None else {}


# --- subscriptions -----------------------------------------------------------------------------------------------
def _subscription_apply(account: BillingAccount, data: dict) -> str:
    """Bring the account in line with the subscription's current state (as re-read from Stripe).
    Precondition: `account` is locked."""
    sub_id, status = data.get("id", ""), data.get("status", "")
    items = (data.get("items") or {}).get("data") or []
    price_id = expandable_id(items[0].get("price")) if items else ""
    plan = Plan.objects.filter(stripe_price_id=price_id).first() if price_id else None
    current = account.stripe_subscription_id
    if status in LIVE_STATUSES:
        account.stripe_subscription_id, account.subscription_status = sub_id, status
        account.save(update_fields=["stripe_subscription_id", "subscription_status", "updated_at"])
        if plan is None:
            return f"subscription {sub_id} {status}: price {price_id!r} matches no plan"
        if account.plan_id != plan.pk:
            plan_assign(user=account.user, slug=plan.slug)
            return f"subscription {sub_id} {status}: plan {plan.slug}"
        return f"subscription {sub_id} {status}: plan unchanged"
    if current and current != sub_id:
        return f"subscription {sub_id} {status}: not the account's subscription ({current}), ignored"
    account.stripe_subscription_id, account.subscription_status = sub_id, status
    account.save(update_fields=["stripe_subscription_id", "subscription_status", "updated_at"])
    if status in ENDED_STATUSES and account.plan.slug != DEFAULT_PLAN_SLUG:
        plan_assign(user=account.user, slug=DEFAULT_PLAN_SLUG)
        return f"subscription {sub_id} {status}: back to {DEFAULT_PLAN_SLUG}"
    return f"subscription {sub_id} {status}"


def _on_checkout_completed(event) -> tuple[BillingAccount | None, str]:
    session = _stripe_data(djstripe_models.Session, event.data["object"]["id"]) or event.data["object"]
    account = _account_for(
        customer_id=expandable_id(session.get("customer")), user_id=session.get("client_reference_id")
    )
    if account is None:
        return None, "checkout completed for an unknown customer"
    sub_id = expandable_id(session.get("subscription"))
    subscription = _stripe_data(djstripe_models.Subscription, sub_id) if sub_id else {}
    if not subscription:
        return account, "checkout completed without a subscription"
    return account, _subscription_apply(account, subscription)


def _on_subscription(event) -> tuple[BillingAccount | None, str]:
    sub_id = event.data["object"]["id"]
    subscription = _stripe_data(djstripe_models.Subscription, sub_id)
    if not subscription:
        return None, f"subscription {sub_id} not found at Stripe"
    account = _account_for(
        customer_id=expandable_id(subscription.get("customer")),
        user_id=(subscription.get("metadata") or {}).get("user_id"),
    )
    if account is None:
        return None, f"subscription {sub_id} of an unknown customer"
    return account, _subscription_apply(account, subscription)


# --- invoices ----------------------------------------------------------------------------------------------------
def _on_invoice_paid(event) -> tuple[BillingAccount | None, str]:
    invoice = _stripe_data(djstripe_models.Invoice, event.data["object"]["id"]) or event.data["object"]
    account = _account_for(customer_id=expandable_id(invoice.get("customer")))
    amount = int(invoice.get("amount_paid") or 0)
    if account is not None and account.payment_failed_at:
        account.payment_failed_at = None
        account.save(update_fields=["payment_failed_at", "updated_at"])
    if amount <= 0:
        return account, f"invoice {invoice['id']} paid with nothing to collect"
    paid_at = (invoice.get("status_transitions") or {}).get("paid_at")
    _, created = RevenueEntry.objects.get_or_create(
        kind=RevenueKind.INVOICE_PAID,
        stripe_object_id=invoice["id"],
        defaults={
            "account": account,
            "amount_cents": amount,
            "currency": invoice.get("currency", "usd"),
            "occurred_at": stripe_time(paid_at) or stripe_time(event.created),
        },
    )
    return account, f"invoice {invoice['id']} paid: revenue {amount}" if created else "invoice already recorded"


def _on_invoice_payment_failed(event) -> tuple[BillingAccount | None, str]:
    invoice = _stripe_data(djstripe_models.Invoice, event.data["object"]["id"]) or event.data["object"]
    account = _account_for(customer_id=expandable_id(invoice.get("customer")))
    if account is None:
        return None, f"invoice {invoice['id']} of an unknown customer"
    if invoice.get("status") == "paid":
        return account, f"invoice {invoice['id']} failed once and is paid now"
    failed_at = stripe_time(event.created)
    if account.payment_failed_at is None or account.payment_failed_at < failed_at:
        account.payment_failed_at = failed_at
        account.save(update_fields=["payment_failed_at", "updated_at"])
    return account, f"invoice {invoice['id']} payment failed"


# --- refunds and disputes ----------------------------------------------------------------------------------------
def _on_charge_refunded(event) -> tuple[BillingAccount | None, str]:
    charge_id = event.data["object"]["id"]
    charge = _stripe_data(djstripe_models.Charge, charge_id) or event.data["object"]
    account = _account_for(customer_id=expandable_id(charge.get("customer")))
    refunds = [r.stripe_data for r in djstripe_models.Refund.objects.filter(charge_id=charge_id)]
    refunds = refunds or ((charge.get("refunds") or {}).get("data") or [])
    recorded = 0
    for refund in refunds:
        if refund.get("status") in ("failed", "canceled"):
            continue
        amount, currency = int(refund.get("amount") or 0), refund.get("currency", "usd")
        occurred_at = stripe_time(refund.get("created")) or stripe_time(event.created)
        _, created = PaymentIncident.objects.get_or_create(
            kind=IncidentKind.REFUND,
            stripe_id=refund["id"],
            defaults={
                "account": account,
                "charge_id": charge_id,
                "amount_cents": amount,
                "currency": currency,
                "reason": refund.get("reason") or "",
                "status": refund.get("status") or "",
                "occurred_at": occurred_at,
            },
        )
        RevenueEntry.objects.get_or_create(
            kind=RevenueKind.REFUND,
            stripe_object_id=refund["id"],
            defaults={"account": account, "amount_cents": -amount, "currency": currency, "occurred_at": occurred_at},
        )
        recorded += created
    return account, f"charge {charge_id} refunded: {recorded} new refund(s)"


def _on_dispute(event) -> tuple[BillingAccount | None, str]:
    dispute = _stripe_data(djstripe_models.Dispute, event.data["object"]["id"]) or event.data["object"]
    charge_id = expandable_id(dispute.get("charge"))
    charge = _stripe_data(djstripe_models.Charge, charge_id) if charge_id else {}
    account = _account_for(customer_id=expandable_id(charge.get("customer")))
    status = dispute.get("status") or ""
    amount, currency = int(dispute.get("amount") or 0), dispute.get("currency", "usd")
    incident, created = PaymentIncident.objects.get_or_create(
        kind=IncidentKind.DISPUTE,
        stripe_id=dispute["id"],
        defaults={
            "account": account,
            "charge_id": charge_id,
            "amount_cents": amount,
            "currency": currency,
            "reason": dispute.get("reason") or "",
            "status": status,
            "occurred_at": stripe_time(dispute.get("created")) or stripe_time(event.created),
        },
    )
    if not created and incident.status != status:
        incident.status = status
        incident.flagged = True  # a status change needs an operator's eyes again
        incident.save(update_fields=["status", "flagged", "updated_at"])
    if status in DISPUTE_CLOSED_STATUSES and incident.closed_at is None:
        incident.closed_at = stripe_time(event.created)
        incident.save(update_fields=["closed_at", "updated_at"])
    if status == "lost":
        RevenueEntry.objects.get_or_create(
            kind=RevenueKind.DISPUTE_LOST,
            stripe_object_id=dispute["id"],
            defaults={
                "account": account,
                "amount_cents": -amount,
                "currency": currency,
                "occurred_at": stripe_time(event.created),
            },
        )
    return account, f"dispute {dispute['id']} {status}"


EVENT_HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "customer.subscription.paused": _on_subscription,
    "customer.subscription.resumed": _on_subscription,
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_failed": _on_invoice_payment_failed,
    "charge.refunded": _on_charge_refunded,
    "charge.refund.updated": _on_charge_refunded,
    "charge.dispute.created": _on_dispute,
    "charge.dispute.updated": _on_dispute,
    "charge.dispute.closed": _on_dispute,
    "charge.dispute.funds_withdrawn": _on_dispute,
    "charge.dispute.funds_reinstated": _on_dispute,
}
