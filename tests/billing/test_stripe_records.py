"""What Stripe's events leave behind, read back: concurrent processing of one event, revenue per GPU-hour, the
nightly reconciliation against Stripe, and acknowledging incidents."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import OperationalError, close_old_connections
from django.utils import timezone
from djstripe.models import WebhookEventTrigger

from billing.models import (
    BillingAccount,
    EntryKind,
    IncidentKind,
    LedgerEntry,
    PaymentIncident,
    ReconciliationRun,
    RevenueEntry,
    RevenueKind,
    StripeEventEffect,
)
from billing.services import account_refresh, plan_assign
from billing.stripe.reconcile import incident_acknowledge, subscriptions_reconcile
from billing.stripe.webhooks import stripe_event_process
from ops.kpis import revenue_per_gpu_hour
from synthesis.models import JobStatus
from tests.factories import QueuedJobFactory, UserFactory
from tests.support import fake_stripe as fs

from .stripe_world import customer_link, prices_install


def _process_like_the_task(trigger_id: int) -> str:
    """What the Celery task does, retries included (a locked database is retried, as autoretry would)."""
    try:
        for _ in range(50):
            try:
                return stripe_event_process(trigger_id=trigger_id)
            except OperationalError:
                time.sleep(0.05)
        raise AssertionError("still locked after 50 tries")
    finally:
        close_old_connections()


@pytest.mark.django_db(transaction=True)
def test_ten_workers_processing_one_event_at_once_apply_it_once(fake_stripe):
    prices = prices_install(fake_stripe)
    user = UserFactory()
    account_refresh(user=user)
    customer_id = customer_link(fake_stripe, user)
    sub = fake_stripe.put(
        fs.subscription("sub_race", customer_id=customer_id, price_obj=prices["pro"], status="active", created=0)
    )
    event = fake_stripe.event("customer.subscription.created", sub)
    triggers = [
        WebhookEventTrigger.objects.create(remote_ip="127.0.0.1", headers={}, body=json.dumps(event), valid=True).pk
        for _ in range(10)
    ]

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(_process_like_the_task, triggers))

    assert sum(outcome != "duplicate" for outcome in outcomes) == 1, outcomes
    assert StripeEventEffect.objects.filter(event_id=event["id"]).count() == 1
    account = BillingAccount.objects.get(user=user)
    assert account.plan.slug == "pro"
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.ADJUST).count() == 1


@pytest.mark.django_db
def test_revenue_per_gpu_hour_counts_paid_invoices_minus_refunds_over_gpu_time():
    now = timezone.now()
    user = UserFactory()
    account = account_refresh(user=user)
    for kind, cents, object_id in [
        (RevenueKind.INVOICE_PAID, 2900, "in_1"),
        (RevenueKind.INVOICE_PAID, 9900, "in_2"),
        (RevenueKind.REFUND, -800, "re_1"),
    ]:
        RevenueEntry.objects.create(
            account=account,
            kind=kind,
            amount_cents=cents,
            currency="usd",
            stripe_object_id=object_id,
            occurred_at=now - timedelta(minutes=5),
        )
    RevenueEntry.objects.create(  # outside the window
        kind=RevenueKind.INVOICE_PAID, amount_cents=100_000, currency="usd", stripe_object_id="in_old",
        occurred_at=now - timedelta(days=3),
    )  # fmt: skip
    for engine, seconds in [("dia", 1800), ("dia", 1800), ("piper", 5000)]:  # CPU time is not GPU time
        QueuedJobFactory(user=user, engine=engine, status=JobStatus.SUCCEEDED, engine_seconds=seconds, audio="a.wav",
                         finished_at=now - timedelta(minutes=1))  # fmt: skip

    figures = revenue_per_gpu_hour(since=now - timedelta(hours=1), until=now)

    assert figures["revenue"] == pytest.approx(120.0)
    assert figures["gpu_hours"] == pytest.approx(1.0)
    assert figures["per_gpu_hour"] == pytest.approx(120.0)
    assert revenue_per_gpu_hour(since=now - timedelta(days=10), until=now - timedelta(days=5))["per_gpu_hour"] is None


@pytest.mark.django_db
def test_reconciliation_records_each_difference_with_stripe(fake_stripe):
    prices = prices_install(fake_stripe)
    in_step, drifted, canceled_at_stripe = UserFactory(), UserFactory(), UserFactory()
    for user, plan, stripe_status in [
        (in_step, "pro", "active"),
        (drifted, "starter", "active"),  # Stripe says Business (an update we never processed)
        (canceled_at_stripe, "pro", "canceled"),  # Stripe canceled it; we still think it is active
    ]:
        account_refresh(user=user)
        plan_assign(user=user, slug=plan)
        customer_id = customer_link(fake_stripe, user)
        remote_plan = "business" if user is drifted else plan
        sub = fake_stripe.put(
            fs.subscription(
                fake_stripe.new_id("sub"),
                customer_id=customer_id,
                price_obj=prices[remote_plan],
                status=stripe_status,
                created=int(time.time()),
            )
        )
        BillingAccount.objects.filter(user=user).update(stripe_subscription_id=sub["id"], subscription_status="active")

    run = subscriptions_reconcile()

    assert (run.accounts_checked, run.error) == (3, "")
    found = {(m.account.user_id, m.field, m.local_value, m.stripe_value) for m in run.mismatches.all()}
    assert found == {
        (drifted.pk, "plan", "starter", "business"),
        (canceled_at_stripe.pk, "status", "active", "canceled"),
        (canceled_at_stripe.pk, "plan", "pro", "free"),
    }
    assert run.mismatch_count == 3
    assert BillingAccount.objects.get(user=drifted).plan.slug == "starter", "reconciliation only records"


@pytest.mark.django_db
def test_reconciliation_with_stripe_down_records_the_error(fake_stripe):
    user = UserFactory()
    account_refresh(user=user)
    customer_link(fake_stripe, user)
    fake_stripe.fail_next = 10

    run = subscriptions_reconcile()

    assert run.error.startswith("APIError")
    assert run.finished_at is not None
    assert ReconciliationRun.objects.count() == 1


@pytest.mark.django_db
def test_acknowledging_an_incident_clears_its_flag(user, other_user):
    incident = PaymentIncident.objects.create(
        kind=IncidentKind.DISPUTE,
        stripe_id="dp_1",
        amount_cents=2900,
        currency="usd",
        reason="fraudulent",
        status="needs_response",
        occurred_at=timezone.now(),
    )

    incident_acknowledge(incident=incident, by=other_user)

    incident.refresh_from_db()
    assert incident.flagged is False
    assert incident.acknowledged_by == other_user
    assert incident.acknowledged_at is not None
