"""Stripe Checkout (a subscription to a plan) and the Customer Portal (change plan or card, cancel, invoices)."""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from djstripe import models as djstripe_models

from ..errors import NoSubscription, PaymentProviderError, PlanNotPurchasable, SubscriptionExists
from ..models import BillingAccount, Plan
from ..services import account_ensure
from .common import LIVE_STATUSES, payments_require

logger = logging.getLogger(__name__)


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
    payments_require()
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
    payments_require()
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
