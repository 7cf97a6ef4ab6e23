"""Setting up Stripe's side of a test (products, prices, customers, subscriptions) in the fake, and delivering
signed webhooks to the running app."""

from __future__ import annotations

import json
import time

import httpx

from billing.models import BillingAccount, Plan
from billing.services import plan_ensure
from tests.conftest import STRIPE_TEST_WEBHOOK_SECRET
from tests.support import fake_stripe as fs
from tests.support.fake_stripe import FakeStripe

PAID_PLANS = {"starter": 900, "pro": 2900, "business": 9900}


def prices_install(fake: FakeStripe) -> dict[str, dict]:
    """A product and a monthly price per paid plan, at Stripe and on the plans. Returns slug -> price."""
    prices = {}
    for slug, cents in PAID_PLANS.items():
        fake.put(fs.product(f"prod_{slug}", slug.title()))
        prices[slug] = fake.put(fs.price(f"price_{slug}", product_id=f"prod_{slug}", amount=cents))
        plan_ensure(slug=slug)  # a transactional test may have flushed the seeded plans
        Plan.objects.filter(slug=slug).update(stripe_price_id=f"price_{slug}", price_cents=cents)
    return prices


def customer_link(fake: FakeStripe, user) -> str:
    """A Stripe customer for `user`, known to the account (as after a first Checkout)."""
    customer = fake.put(fs.customer(fake.new_id("cus"), email=user.email, metadata={"djstripe_subscriber": user.pk}))
    BillingAccount.objects.filter(user=user).update(stripe_customer_id=customer["id"])
    return customer["id"]


def deliver(base_url: str, event: dict, *, secret: str = STRIPE_TEST_WEBHOOK_SECRET, timestamp=None, signature=None):
    """POST one event to /stripe/webhook/ the way Stripe does: the raw JSON body and its signature."""
    payload = json.dumps(event)
    header = signature if signature is not None else fs.signature_header(payload, secret, timestamp)
    return httpx.post(
        f"{base_url}/stripe/webhook/",
        content=payload,
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
        timeout=30,
    )


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
