"""Stripe through dj-stripe: Checkout and the Customer Portal, webhook intake, the effect of each event, and the
nightly reconciliation.

Webhooks: `webhook_receive` verifies the signature with dj-stripe's `WebhookEventTrigger` (the configured secret,
`STRIPE_WEBHOOK_TOLERANCE` seconds against replays) and stores the trigger; the endpoint answers at once and a
Celery task runs `stripe_event_process`. That has dj-stripe process the event, which *re-reads the object from
Stripe* rather than trusting the event's snapshot, so an event that arrives late or out of order can never roll
state back; then `stripe_event_apply` applies the product's effect (plan, revenue, refund, dispute) once per event
id: the `StripeEventEffect` row is written in the same transaction as the effect, and a duplicate finds it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from djstripe import models as djstripe_models
from djstripe.models.webhooks import get_remote_ip

from core.tasks import task_send

from .errors import (
    InvalidWebhook,
    NoSubscription,
    PaymentProviderError,
    PaymentsNotConfigured,
    PlanNotPurchasable,
    SubscriptionExists,
)
from .models import (
    BillingAccount,
    IncidentKind,
    PaymentIncident,
    Plan,
    ReconciliationMismatch,
    ReconciliationRun,
    RevenueEntry,
    RevenueKind,
    StripeEventEffect,
)
from .plans import DEFAULT_PLAN_SLUG
from .services import account_ensure, account_lock, plan_assign

logger = logging.getLogger(__name__)

PROCESS_EVENT_TASK = "billing.process_stripe_event"
# Subscription statuses that keep the paid plan (past_due: Stripe is still retrying the card) and those that end it.
LIVE_STATUSES = {"active", "trialing", "past_due"}
ENDED_STATUSES = {"canceled", "unpaid", "incomplete_expired", "paused"}
DISPUTE_CLOSED_STATUSES = {"won", "lost", "warning_closed"}


def payments_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _require_payments() -> None:
    if not payments_configured():
        raise PaymentsNotConfigured()


def _ts(value) -> datetime | None:
    """Stripe's Unix timestamps (or dj-stripe's datetimes) as aware datetimes."""
    if value in (None, ""):
        return None
    return value if isinstance(value, datetime) else datetime.fromtimestamp(int(value), UTC)


def _id(value) -> str:
    """An expandable Stripe field: an id, or the object itself."""
    if isinstance(value, str) or value is None:
        return value or ""
    return value.get("id") or ""


# ---------------------------------------------------------------------------------------------------------------
# Checkout and the Customer Portal
# ---------------------------------------------------------------------------------------------------------------
def customer_ensure(*, user) -> str:
    """The user's Stripe customer id, created at Stripe once (dj-stripe's idempotency key) when missing."""
    account = account_ensure(user=user)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    try:
        customer, _ = djstripe_models.Customer.get_or_create(
            subscriber=user, livemode=settings.STRIPE_LIVE_MODE, api_key=settings.STRIPE_SECRET_KEY
        )
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    BillingAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(stripe_customer_id=customer.id)
    return customer.id


def checkout_session_create(*, user, slug: str, success_url: str, cancel_url: str) -> str:
    """A Stripe Checkout session for a subscription to the plan; returns the URL to send the customer to.

    An account that already has a live subscription changes plans in the Customer Portal instead: a second
    Checkout would start a second subscription and charge twice.
    """
    _require_payments()
    plan = Plan.objects.filter(slug=slug, is_active=True).first()
    if plan is None or not plan.stripe_price_id:
        raise PlanNotPurchasable(
            f"There is no plan {slug!r} to buy online." if plan is None else f"The {plan.name} plan has no price.",
            detail={"plan": slug},
        )
    account = account_ensure(user=user)
    if account.stripe_subscription_id and account.subscription_status in LIVE_STATUSES:
        raise SubscriptionExists(
            f"You already subscribe to the {account.plan.name} plan. Change plans with “Manage subscription”.",
            detail={"plan": account.plan.slug},
        )
    customer_id = customer_ensure(user=user)
    metadata = {"user_id": str(user.pk), "plan": plan.slug}
    try:
        session = stripe.checkout.Session.create(
            api_key=settings.STRIPE_SECRET_KEY,
            mode="subscription",
            customer=customer_id,
            client_reference_id=str(user.pk),
            line_items=[{"price": plan.stripe_price_id, "quantity": 1}],
            success_url=success_url,
            cancel_url=cancel_url,
            metadata=metadata,
            subscription_data={"metadata": metadata},
        )
    except stripe.StripeError as exc:
        logger.warning("checkout session for user %s failed: %s", user.pk, exc)
        raise PaymentProviderError() from exc
    return session["url"]


def portal_session_create(*, user, return_url: str) -> str:
    """A Stripe Customer Portal session (change plan, card, cancel, invoices); returns its URL."""
    _require_payments()
    account = account_ensure(user=user)
    if not account.stripe_customer_id:
        raise NoSubscription()
    try:
        session = stripe.billing_portal.Session.create(
            api_key=settings.STRIPE_SECRET_KEY, customer=account.stripe_customer_id, return_url=return_url
        )
    except stripe.StripeError as exc:
        logger.warning("portal session for user %s failed: %s", user.pk, exc)
        raise PaymentProviderError() from exc
    return session["url"]


# ---------------------------------------------------------------------------------------------------------------
# Webhooks: intake (in the request) and processing (in a task)
# ---------------------------------------------------------------------------------------------------------------
def webhook_receive(*, request) -> tuple[djstripe_models.WebhookEventTrigger, bool]:
    """Verify and store a webhook delivery; returns the trigger and whether it must be processed (False when the
    event's effect is already applied). A bad or stale signature raises `InvalidWebhook` and stores nothing."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise PaymentsNotConfigured("Stripe webhooks are not configured on this server (STRIPE_WEBHOOK_SECRET).")
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidWebhook("The body is not UTF-8.", code="invalid_payload") from exc
    trigger = djstripe_models.WebhookEventTrigger(
        remote_ip=get_remote_ip(request), headers=dict(request.headers), body=body
    )
    if not trigger.verify_signature(secret=secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE):
        raise InvalidWebhook("The Stripe-Signature header does not match this body, or it is too old.")
    data = trigger.json_body
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str) or "data" not in data:
        raise InvalidWebhook("The body is not a Stripe event.", code="invalid_payload")
    trigger.valid = True
    # A redelivery of an event already applied is kept (as processed) for the record, and not queued again.
    trigger.processed = StripeEventEffect.objects.filter(event_id=data["id"]).exists()
    trigger.save()
    if not trigger.processed:
        transaction.on_commit(lambda: stripe_trigger_enqueue(trigger_id=trigger.pk))
    return trigger, not trigger.processed


def stripe_trigger_enqueue(*, trigger_id: int) -> None:
    task_send(
        PROCESS_EVENT_TASK,
        args=[trigger_id],
        queue="default",
        failure=f"could not enqueue Stripe webhook {trigger_id}; the sweeper will retry",
        logger=logger,
    )


def stripe_event_process(*, trigger_id: int) -> str:
    """Process one stored delivery: dj-stripe syncs the event's objects from Stripe, then the effect is applied
    once. Raises on Stripe or database errors (the task retries); returns the outcome."""
    trigger = djstripe_models.WebhookEventTrigger.objects.get(pk=trigger_id)
    event_id = trigger.json_body.get("id", "")
    if trigger.processed or StripeEventEffect.objects.filter(event_id=event_id).exists():
        djstripe_models.WebhookEventTrigger.objects.filter(pk=trigger_id).update(processed=True)
        return "duplicate"
    try:
        event = trigger.process(save=True, api_key=settings.STRIPE_SECRET_KEY)
    except IntegrityError:
        # A concurrent delivery of the same event synced the same objects first: use its event.
        event = djstripe_models.Event.objects.get(id=event_id)
    return stripe_event_apply(event=event)


def stripe_triggers_sweep(*, older_than_seconds: int = 300) -> int:
    """Re-enqueue valid deliveries left unprocessed (a lost task message, a worker that died). Returns how many."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    ids = list(
        djstripe_models.WebhookEventTrigger.objects.filter(valid=True, processed=False, created__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for trigger_id in ids:
        stripe_trigger_enqueue(trigger_id=trigger_id)
    return len(ids)


def stripe_event_apply(*, event: djstripe_models.Event) -> str:
    """Apply the product's effect of one Stripe event, exactly once per event id."""
    handler = EVENT_HANDLERS.get(event.type)
    with transaction.atomic():
        effect, created = StripeEventEffect.objects.get_or_create(
            event_id=event.id, defaults={"type": event.type, "stripe_created": _ts(event.created) or timezone.now()}
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
    price_id = _id(items[0].get("price")) if items else ""
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
    account = _account_for(customer_id=_id(session.get("customer")), user_id=session.get("client_reference_id"))
    if account is None:
        return None, "checkout completed for an unknown customer"
    sub_id = _id(session.get("subscription"))
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
        customer_id=_id(subscription.get("customer")), user_id=(subscription.get("metadata") or {}).get("user_id")
    )
    if account is None:
        return None, f"subscription {sub_id} of an unknown customer"
    return account, _subscription_apply(account, subscription)


# --- invoices ----------------------------------------------------------------------------------------------------
def _on_invoice_paid(event) -> tuple[BillingAccount | None, str]:
    invoice = _stripe_data(djstripe_models.Invoice, event.data["object"]["id"]) or event.data["object"]
    account = _account_for(customer_id=_id(invoice.get("customer")))
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
            "occurred_at": _ts(paid_at) or _ts(event.created),
        },
    )
    return account, f"invoice {invoice['id']} paid: revenue {amount}" if created else "invoice already recorded"


def _on_invoice_payment_failed(event) -> tuple[BillingAccount | None, str]:
    invoice = _stripe_data(djstripe_models.Invoice, event.data["object"]["id"]) or event.data["object"]
    account = _account_for(customer_id=_id(invoice.get("customer")))
    if account is None:
        return None, f"invoice {invoice['id']} of an unknown customer"
    if invoice.get("status") == "paid":
        return account, f"invoice {invoice['id']} failed once and is paid now"
    failed_at = _ts(event.created)
    if account.payment_failed_at is None or account.payment_failed_at < failed_at:
        account.payment_failed_at = failed_at
        account.save(update_fields=["payment_failed_at", "updated_at"])
    return account, f"invoice {invoice['id']} payment failed"


# --- refunds and disputes ----------------------------------------------------------------------------------------
def _on_charge_refunded(event) -> tuple[BillingAccount | None, str]:
    charge_id = event.data["object"]["id"]
    charge = _stripe_data(djstripe_models.Charge, charge_id) or event.data["object"]
    account = _account_for(customer_id=_id(charge.get("customer")))
    refunds = [r.stripe_data for r in djstripe_models.Refund.objects.filter(charge_id=charge_id)]
    refunds = refunds or ((charge.get("refunds") or {}).get("data") or [])
    recorded = 0
    for refund in refunds:
        if refund.get("status") in ("failed", "canceled"):
            continue
        amount, currency = int(refund.get("amount") or 0), refund.get("currency", "usd")
        occurred_at = _ts(refund.get("created")) or _ts(event.created)
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
    charge_id = _id(dispute.get("charge"))
    charge = _stripe_data(djstripe_models.Charge, charge_id) if charge_id else {}
    account = _account_for(customer_id=_id(charge.get("customer")))
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
            "occurred_at": _ts(dispute.get("created")) or _ts(event.created),
        },
    )
    if not created and incident.status != status:
        incident.status = status
        incident.flagged = True  # a status change needs an operator's eyes again
        incident.save(update_fields=["status", "flagged", "updated_at"])
    if status in DISPUTE_CLOSED_STATUSES and incident.closed_at is None:
        incident.closed_at = _ts(event.created)
        incident.save(update_fields=["closed_at", "updated_at"])
    if status == "lost":
        RevenueEntry.objects.get_or_create(
            kind=RevenueKind.DISPUTE_LOST,
            stripe_object_id=dispute["id"],
            defaults={
                "account": account,
                "amount_cents": -amount,
                "currency": currency,
                "occurred_at": _ts(event.created),
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


# ---------------------------------------------------------------------------------------------------------------
# Acknowledgement and reconciliation
# ---------------------------------------------------------------------------------------------------------------
def incident_acknowledge(*, incident: PaymentIncident, by) -> PaymentIncident:
    PaymentIncident.objects.filter(pk=incident.pk).update(
        flagged=False, acknowledged_by=by, acknowledged_at=timezone.now()
    )
    incident.refresh_from_db()
    return incident


def subscriptions_reconcile() -> ReconciliationRun:
    """Compare each Stripe customer's subscription at Stripe with the account's subscription, status and plan;
    record every difference. Nothing is changed: an operator decides (the mismatches are listed in the admin)."""
    _require_payments()
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
        price_id = _id(items[0].get("price")) if items else ""
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
