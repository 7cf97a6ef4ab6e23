"""Stripe webhooks through the real stack: Daphne verifies and stores each delivery, the Celery worker has dj-stripe
re-read the objects from the fake Stripe API and applies the effect once per event id."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from django.test import Client
from djstripe.models import Subscription, WebhookEventTrigger

from billing.models import (
    BillingAccount,
    EntryKind,
    IncidentKind,
    LedgerEntry,
    PaymentIncident,
    RevenueEntry,
    RevenueKind,
    StripeEventEffect,
)
from billing.services import account_refresh
from billing.stripe.webhooks import stripe_triggers_sweep
from tests.factories import PASSWORD, UserFactory
from tests.support import fake_stripe as fs

from .stripe_world import customer_link, deliver, prices_install, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(stack, fake_stripe):
    return SimpleNamespace(base=stack.base_url, fake=fake_stripe, prices=prices_install(fake_stripe))


def _subscriber(world, *, plan: str = "pro", status: str = "active"):
    """A Free user who is a Stripe customer with a subscription in Stripe (not yet known locally)."""
    user = UserFactory()
    account_refresh(user=user)
    customer_id = customer_link(world.fake, user)
    sub = world.fake.put(
        fs.subscription(
            world.fake.new_id("sub"),
            customer_id=customer_id,
            price_obj=world.prices[plan],
            status=status,
            created=int(time.time()),
        )
    )
    return user, customer_id, sub


def _applied(*event_ids: str) -> bool:
    return StripeEventEffect.objects.filter(event_id__in=event_ids).count() == len(set(event_ids))


def _account(user) -> BillingAccount:
    return BillingAccount.objects.select_related("plan").get(user=user)


def test_signed_event_is_processed_and_changes_the_plan(world):
    user, _, sub = _subscriber(world, plan="pro")
    event = world.fake.event("customer.subscription.created", sub)

    response = deliver(world.base, event)

    assert response.status_code == 200
    assert response.json() == {"received": True, "event": event["id"], "duplicate": False}
    wait_until(lambda: _applied(event["id"]), what="the event's effect")
    account = _account(user)
    assert (account.plan.slug, account.subscription_status, account.stripe_subscription_id) == (
        "pro",
        "active",
        sub["id"],
    )
    assert account.balance == account.plan.monthly_characters, "the upgrade grants Pro's month at once"
    assert Subscription.objects.filter(id=sub["id"]).exists(), "dj-stripe keeps the Stripe object"
    assert StripeEventEffect.objects.get(event_id=event["id"]).account == account


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "tampered body", "stale timestamp", "no signature", "garbage header"],
)
def test_bad_or_stale_signature_is_refused_with_no_effect(world, how):
    user, _, sub = _subscriber(world, plan="business")
    event = world.fake.event("customer.subscription.created", sub)
    triggers_before = WebhookEventTrigger.objects.count()
    kwargs = {
        "wrong secret": {"secret": "whsec_not_the_right_one"},
        "stale timestamp": {"timestamp": int(time.time()) - 301},
        "no signature": {"signature": ""},
        "garbage header": {"signature": "t=abc,v1=zzz"},
        "tampered body": {"signature": fs.signature_header('{"id": "evt_other"}', "whsec_odiadevFakeWebhookSecret")},
    }[how]

    response = deliver(world.base, event, **kwargs)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    time.sleep(1.5)  # were anything queued, the worker would have run it by now
    assert WebhookEventTrigger.objects.count() == triggers_before, "a refused delivery is not even stored"
    assert not StripeEventEffect.objects.filter(event_id=event["id"]).exists()
    assert _account(user).plan.slug == "free"


def test_signature_within_the_300_second_tolerance_is_accepted(world):
    user, _, sub = _subscriber(world, plan="starter")
    event = world.fake.event("customer.subscription.created", sub)

    response = deliver(world.base, event, timestamp=int(time.time()) - 240)

    assert response.status_code == 200
    wait_until(lambda: _applied(event["id"]))
    assert _account(user).plan.slug == "starter"


def test_the_same_event_ten_times_at_once_has_one_effect(world):
    user, customer_id, sub = _subscriber(world, plan="pro")
    invoice = world.fake.put(
        fs.invoice(
            world.fake.new_id("in"), customer_id=customer_id, subscription_id=sub["id"], amount=2900, status="paid"
        )
    )
    created = world.fake.event("customer.subscription.created", sub)
    paid = world.fake.event("invoice.paid", invoice)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda event: deliver(world.base, event), [created, paid] * 10))

    assert [r.status_code for r in responses] == [200] * 20
    wait_until(lambda: _applied(created["id"], paid["id"]))
    wait_until(
        lambda: not WebhookEventTrigger.objects.filter(valid=True, processed=False).exists(),
        what="every delivery processed",
    )
    assert StripeEventEffect.objects.filter(event_id__in=[created["id"], paid["id"]]).count() == 2
    assert RevenueEntry.objects.filter(stripe_object_id=invoice["id"]).count() == 1
    assert RevenueEntry.objects.get(stripe_object_id=invoice["id"]).amount_cents == 2900
    account = _account(user)
    upgrades = LedgerEntry.objects.filter(account=account, kind=EntryKind.ADJUST)
    assert upgrades.count() == 1, "the upgrade grant is given once"
    assert account.balance == account.plan.monthly_characters


def _subscription_story(world, final: str):
    """A subscription's life at Stripe, one event per step, each carrying its snapshot at the time. Stripe ends
    in the last state (its API answers with that)."""
    user, _, sub = _subscriber(world, plan="pro")
    events = [world.fake.event("customer.subscription.created", sub, created=int(time.time()) - 30)]
    sub = world.fake.update(
        sub["id"],
        items=fs.subscription(
            sub["id"],
            customer_id=sub["customer"],
            price_obj=world.prices["business"],
            status="active",
            created=sub["created"],
        )["items"],
    )
    events.append(world.fake.event("customer.subscription.updated", sub, created=int(time.time()) - 20))
    if final == "canceled":
        sub = world.fake.update(sub["id"], status="canceled", canceled_at=int(time.time()), ended_at=int(time.time()))
        events.append(world.fake.event("customer.subscription.deleted", sub, created=int(time.time()) - 10))
    return user, sub, events


@pytest.mark.parametrize(("final", "expected_plan"), [("active", "business"), ("canceled", "free")])
def test_shuffled_subscription_events_reach_the_same_final_state(world, final, expected_plan):
    outcomes = set()
    for seed in range(3):
        user, sub, events = _subscription_story(world, final)
        random.Random(seed).shuffle(events)
        for event in events:
            assert deliver(world.base, event).status_code == 200
        wait_until(lambda events=events: _applied(*(e["id"] for e in events)), what="every event applied")
        account = _account(user)
        outcomes.add((account.plan.slug, account.subscription_status, account.stripe_subscription_id == sub["id"]))

    assert outcomes == {(expected_plan, final, True)}, "every order ends in Stripe's final state"


def test_refunds_are_recorded_once_each_and_reduce_revenue(world):
    user, customer_id, sub = _subscriber(world, plan="pro")
    invoice = world.fake.put(
        fs.invoice(
            world.fake.new_id("in"), customer_id=customer_id, subscription_id=sub["id"], amount=2900, status="paid"
        )
    )
    charge = world.fake.put(fs.charge(world.fake.new_id("ch"), customer_id=customer_id, amount=2900))
    first = fs.refund(world.fake.new_id("re"), charge_id=charge["id"], amount=1000)
    charge = world.fake.update(charge["id"], amount_refunded=1000, refunds=fs.listing([first]))
    events = [world.fake.event("invoice.paid", invoice), world.fake.event("charge.refunded", charge)]
    # Stripe sends charge.refunded again for a second, later refund; the first must not count twice.
    second = fs.refund(world.fake.new_id("re"), charge_id=charge["id"], amount=500, reason="duplicate")
    charge = world.fake.update(charge["id"], amount_refunded=1500, refunds=fs.listing([first, second]))
    events.append(world.fake.event("charge.refunded", charge))

    for event in events:
        assert deliver(world.base, event).status_code == 200
    wait_until(lambda: _applied(*(e["id"] for e in events)))

    refunds = PaymentIncident.objects.filter(kind=IncidentKind.REFUND, charge_id=charge["id"]).order_by("amount_cents")
    assert [(r.amount_cents, r.reason, r.currency, r.flagged) for r in refunds] == [
        (500, "duplicate", "usd", True),
        (1000, "requested_by_customer", "usd", True),
    ]
    assert all(r.account.user == user and r.occurred_at is not None for r in refunds)
    revenue = RevenueEntry.objects.filter(account__user=user)
    assert sorted(revenue.values_list("kind", "amount_cents")) == [
        (RevenueKind.INVOICE_PAID, 2900),
        (RevenueKind.REFUND, -1000),
        (RevenueKind.REFUND, -500),
    ]


def test_disputes_are_recorded_and_a_lost_one_reduces_revenue(world):
    user, customer_id, _ = _subscriber(world)
    charge = world.fake.put(fs.charge(world.fake.new_id("ch"), customer_id=customer_id, amount=2900))
    dispute = world.fake.put(
        fs.dispute(world.fake.new_id("dp"), charge_id=charge["id"], amount=2900, status="needs_response")
    )
    opened = world.fake.event("charge.dispute.created", dispute)

    deliver(world.base, opened)
    wait_until(lambda: _applied(opened["id"]))
    incident = PaymentIncident.objects.get(kind=IncidentKind.DISPUTE, stripe_id=dispute["id"])
    assert (incident.status, incident.reason, incident.amount_cents, incident.flagged) == (
        "needs_response",
        "fraudulent",
        2900,
        True,
    )
    assert incident.account.user == user
    assert incident.closed_at is None
    assert not RevenueEntry.objects.filter(stripe_object_id=dispute["id"]).exists()

    dispute = world.fake.update(dispute["id"], status="lost")
    closed = world.fake.event("charge.dispute.closed", dispute)
    deliver(world.base, closed)
    wait_until(lambda: _applied(closed["id"]))

    incident.refresh_from_db()
    assert incident.status == "lost"
    assert incident.closed_at is not None
    lost = RevenueEntry.objects.get(stripe_object_id=dispute["id"])
    assert (lost.kind, lost.amount_cents) == (RevenueKind.DISPUTE_LOST, -2900)


def test_failed_payment_is_shown_until_an_invoice_is_paid(world):
    user, customer_id, sub = _subscriber(world)
    invoice = world.fake.put(
        fs.invoice(
            world.fake.new_id("in"), customer_id=customer_id, subscription_id=sub["id"], amount=2900, status="open"
        )
    )
    failed = world.fake.event("invoice.payment_failed", invoice)
    deliver(world.base, failed)
    wait_until(lambda: _applied(failed["id"]))
    browser = Client()
    browser.login(email=user.email, password=PASSWORD)

    assert _account(user).payment_failed_at is not None
    assert 'data-testid="payment-failed"' in browser.get("/billing/").content.decode()

    invoice = world.fake.update(invoice["id"], status="paid", amount_paid=2900, paid=True)
    paid = world.fake.event("invoice.paid", invoice)
    deliver(world.base, paid)
    wait_until(lambda: _applied(paid["id"]))

    assert _account(user).payment_failed_at is None
    assert 'data-testid="payment-failed"' not in browser.get("/billing/").content.decode()


def test_checkout_completed_links_the_customer_and_starts_the_plan(world):
    user = UserFactory()
    account_refresh(user=user)
    customer = world.fake.put(fs.customer(world.fake.new_id("cus"), email=user.email))
    sub = world.fake.put(
        fs.subscription(
            world.fake.new_id("sub"),
            customer_id=customer["id"],
            price_obj=world.prices["starter"],
            status="active",
            created=int(time.time()),
        )
    )
    session = world.fake.put(
        {
            "id": world.fake.new_id("cs_test"),
            "object": "checkout.session",
            "mode": "subscription",
            "status": "complete",
            "payment_status": "paid",
            "customer": customer["id"],
            "subscription": sub["id"],
            "client_reference_id": str(user.pk),
            "metadata": {"user_id": str(user.pk), "plan": "starter"},
            "livemode": False,
            "created": int(time.time()),
            "url": None,
        }
    )
    event = world.fake.event("checkout.session.completed", session)

    deliver(world.base, event)
    wait_until(lambda: _applied(event["id"]))

    account = _account(user)
    assert (account.stripe_customer_id, account.stripe_subscription_id, account.plan.slug) == (
        customer["id"],
        sub["id"],
        "starter",
    )


def test_a_delivery_survives_stripe_being_down_and_a_lost_task(world):
    user, _, sub = _subscriber(world, plan="pro")
    event = world.fake.event("customer.subscription.created", sub)
    world.fake.fail_next = 4  # the first processing attempt fails at Stripe (the library retries twice)

    assert deliver(world.base, event).status_code == 200
    wait_until(lambda: _applied(event["id"]), timeout=60, what="processing after Stripe came back")
    assert _account(user).plan.slug == "pro"

    # A valid delivery whose task message was lost is picked up by the sweeper.
    user2, _, sub2 = _subscriber(world, plan="starter")
    event2 = world.fake.event("customer.subscription.created", sub2)
    trigger = WebhookEventTrigger.objects.create(remote_ip="127.0.0.1", headers={}, body=json.dumps(event2), valid=True)
    assert stripe_triggers_sweep(older_than_seconds=0) >= 1
    wait_until(lambda: _applied(event2["id"]))
    trigger.refresh_from_db()
    assert trigger.processed
    assert _account(user2).plan.slug == "starter"
