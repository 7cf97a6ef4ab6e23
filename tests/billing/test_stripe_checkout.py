"""Checkout and Customer Portal sessions against the fake Stripe API (real HTTP), and local mode without keys."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.models import BillingAccount
from billing.services import plan_assign
from tests.factories import PASSWORD

from .stripe_world import customer_link, prices_install


@pytest.fixture
def prices(fake_stripe, db):
    return prices_install(fake_stripe)


def test_checkout_creates_one_customer_and_a_subscription_session(api, user, fake_stripe, prices):
    first = api.post("/v1/billing/checkout", {"plan": "pro"}, format="json")
    second = api.post("/v1/billing/checkout", {"plan": "pro"}, format="json")

    assert first.status_code == 201, first.json()
    assert first.json()["url"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
    assert second.json()["url"] != first.json()["url"]
    customers = fake_stripe.calls("POST", "customers")
    assert len(customers) == 1, "the Stripe customer is created once and reused"
    assert customers[0].params["email"] == user.email
    account = BillingAccount.objects.get(user=user)
    assert account.stripe_customer_id == fake_stripe.objects[account.stripe_customer_id]["id"]
    session = fake_stripe.calls("POST", "checkout/sessions")[0].params
    assert session["mode"] == "subscription"
    assert session["customer"] == account.stripe_customer_id
    assert session["line_items"] == [{"price": "price_pro", "quantity": "1"}]
    assert session["client_reference_id"] == str(user.pk)
    assert session["subscription_data"]["metadata"] == {"user_id": str(user.pk), "plan": "pro"}
    assert session["success_url"].endswith("/billing/?checkout=success")
    assert account.plan.slug == "free", "nothing changes until Stripe says the customer paid"


def test_checkout_refuses_what_cannot_be_bought(api, user, fake_stripe, prices):
    unknown = api.post("/v1/billing/checkout", {"plan": "platinum"}, format="json")
    free = api.post("/v1/billing/checkout", {"plan": "free"}, format="json")
    missing = api.post("/v1/billing/checkout", {}, format="json")

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "plan_not_purchasable")
    assert (free.status_code, free.json()["error"]["code"]) == (400, "plan_not_purchasable")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "invalid_request")
    assert fake_stripe.requests == [], "nothing was asked of Stripe"


def test_a_subscriber_changes_plans_in_the_portal_not_a_second_checkout(api, user, fake_stripe, prices):
    customer_link(fake_stripe, user)
    plan_assign(user=user, slug="pro")
    BillingAccount.objects.filter(user=user).update(stripe_subscription_id="sub_live", subscription_status="active")

    response = api.post("/v1/billing/checkout", {"plan": "business"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "subscription_exists"
    assert "Manage subscription" in response.json()["error"]["message"]
    assert fake_stripe.calls("POST", "checkout/sessions") == []


def test_portal_session_for_the_customer(api, user, fake_stripe, prices):
    before = api.post("/v1/billing/portal", {}, format="json")
    customer_id = customer_link(fake_stripe, user)

    after = api.post("/v1/billing/portal", {"return_url": "https://app.example.com/settings"}, format="json")

    assert (before.status_code, before.json()["error"]["code"]) == (409, "no_subscription")
    assert after.status_code == 201
    assert after.json()["url"].startswith("https://billing.stripe.test/p/session/")
    [call] = fake_stripe.calls("POST", "billing_portal/sessions")
    assert call.params == {"customer": customer_id, "return_url": "https://app.example.com/settings"}


def test_stripe_unreachable_is_a_502_and_changes_nothing(api, user, fake_stripe, prices):
    customer_link(fake_stripe, user)
    fake_stripe.fail_next = 10  # the library retries; every try fails

    response = api.post("/v1/billing/checkout", {"plan": "pro"}, format="json")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "payment_provider_error"
    assert "Nothing was charged" in response.json()["error"]["message"]
    assert BillingAccount.objects.get(user=user).plan.slug == "free"


def test_local_mode_explains_that_payments_are_not_configured(api, user, settings):
    settings.STRIPE_SECRET_KEY = ""

    checkout = api.post("/v1/billing/checkout", {"plan": "pro"}, format="json")
    portal = api.post("/v1/billing/portal", {}, format="json")

    assert (checkout.status_code, checkout.json()["error"]["code"]) == (409, "payments_not_configured")
    assert (portal.status_code, portal.json()["error"]["code"]) == (409, "payments_not_configured")


def test_dashboard_upgrade_button_goes_to_checkout(user, fake_stripe, prices):
    browser = Client()
    browser.login(email=user.email, password=PASSWORD)

    page = browser.get("/billing/")
    response = browser.post("/billing/checkout/", {"plan": "starter"})

    assert 'data-testid="upgrade-starter"' in page.content.decode()
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.test/c/pay/")
    session = fake_stripe.calls("POST", "checkout/sessions")[0].params
    assert session["success_url"] == "http://testserver/billing/?checkout=success"


def test_dashboard_local_mode_shows_why_upgrading_is_off(user, settings):
    settings.STRIPE_SECRET_KEY = ""
    browser = Client()
    browser.login(email=user.email, password=PASSWORD)

    page = browser.get("/billing/").content.decode()
    refused = browser.post("/billing/checkout/", {"plan": "pro"}, follow=True).content.decode()

    assert "Payments are not configured on this server" in page
    assert "upgrade-pro" not in page
    assert "payments_not_configured" in refused
