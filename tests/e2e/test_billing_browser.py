"""The Billing page in a browser shows the plan, the usage bar and the chart; an over-quota submit says why."""

import pytest
from playwright.sync_api import expect

from accounts.services import api_key_create
from billing.services import account_refresh, usage_adjust
from tests.billing.stripe_world import prices_install
from tests.factories import UserFactory

from .browser import browser_page, log_in
from .helpers import submit

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def nearly_spent(stack):
    """A Free account that has used 39 characters and has 30 left. (Set up before the browser starts: the
    database is not to be used while Playwright's event loop runs.)"""
    user = UserFactory()
    secret = api_key_create(user=user, name="browser").secret
    assert submit(stack, secret, text="Forty characters of text, spoken aloud.", wait=True).status_code == 200
    account_refresh(user=user)
    usage_adjust(user=user, amount=-(10_000 - 39 - 30), reason="test: nearly spent")
    return user


@pytest.fixture
def page(stack, nearly_spent):
    with browser_page(stack.base_url) as page:
        yield page


def test_billing_page_and_over_quota_message(nearly_spent, page):
    log_in(page, nearly_spent.email)
    page.goto("/billing/")

    expect(page.get_by_test_id("plan-name")).to_have_text("Free")
    expect(page.get_by_test_id("chars-used")).to_have_text("39")
    expect(page.get_by_test_id("chars-left")).to_have_text("30")
    assert page.get_by_test_id("usage-bar").get_attribute("aria-valuenow") == "39"
    bars = page.locator('[data-testid="usage-chart"] rect')
    expect(bars).to_have_count(30)
    assert bars.last.get_attribute("data-characters") == "39"
    assert int(bars.last.get_attribute("height")) == 100

    page.goto("/")
    page.fill("#tts-text", "This sentence is longer than the thirty characters left.")
    page.click("#tts-submit")
    expect(page.locator("#job-error")).to_contain_text("quota_exceeded")
    expect(page.locator("#job-error")).to_contain_text("30 are left")


@pytest.fixture
def payable(stack, fake_stripe):
    """Stripe mode with priced plans, and a Free user (database rows made before the browser starts)."""
    prices_install(fake_stripe)
    user = UserFactory()
    account_refresh(user=user)
    return user


def test_upgrade_button_sends_the_customer_to_stripe_checkout(payable, fake_stripe, stack):
    with browser_page(stack.base_url) as page:
        # Stripe's hosted Checkout page is outside this machine: the browser gets a stand-in for it.
        page.route(
            "https://checkout.stripe.test/**",
            lambda route: route.fulfill(status=200, content_type="text/html", body="<h1>Stripe Checkout</h1>"),
        )
        log_in(page, payable.email)
        page.goto("/billing/")
        expect(page.get_by_test_id("upgrade-pro")).to_be_visible()
        page.get_by_test_id("upgrade-pro").click()

        expect(page.locator("h1")).to_have_text("Stripe Checkout")
        assert page.url.startswith("https://checkout.stripe.test/c/pay/cs_test_")
        page.goto("/billing/?checkout=success")
        expect(page.get_by_test_id("checkout-success")).to_contain_text("Your plan changes as soon as Stripe")
        expect(page.get_by_test_id("plan-name")).to_have_text("Free")

    [session] = fake_stripe.calls("POST", "checkout/sessions")
    assert session.params["line_items"] == [{"price": "price_pro", "quantity": "1"}]
    assert session.params["client_reference_id"] == str(payable.pk)
