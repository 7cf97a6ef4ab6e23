"""The Billing page in a browser shows the plan, the usage bar and the chart; an over-quota submit says why."""

import pytest
from playwright.sync_api import expect

from accounts.services import api_key_create
from billing.services import account_refresh, plan_assign, usage_adjust
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
    # the axis goes to 50 (the peak rounded up), so 39 fills 78% of the plot's 116 units
    assert float(bars.last.get_attribute("height")) == pytest.approx(116 * 39 / 50, abs=0.1)
    expect(page.get_by_test_id("usage-chart-y-tick")).to_have_text(["0", "25", "50"])
    expect(page.get_by_test_id("usage-chart-x-tick")).to_have_count(3)
    expect(page.get_by_test_id("usage-chart-x-title")).to_contain_text("Day")

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


@pytest.fixture
def on_pro(stack, fake_stripe):
    """Stripe mode with priced plans, and a customer on Pro without a live subscription (assigned by an operator)."""
    prices_install(fake_stripe)
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    return user


def test_the_plans_table_shows_every_limit_and_the_right_button_per_plan(on_pro, stack):
    with browser_page(stack.base_url) as page:
        log_in(page, on_pro.email)
        page.goto("/billing/")

        headers = page.locator('[data-testid="plans"] thead th')
        for title in ("Characters / month", "Longest text", "Formats", "Jobs at once", "Voice cloning", "Storage"):
            expect(headers.filter(has_text=title)).to_have_count(1)
        expect(page.get_by_test_id("plan-business-characters")).to_have_text("2,000,000")
        expect(page.get_by_test_id("plan-free-longest")).to_have_text("1,000 characters")
        expect(page.get_by_test_id("plan-free-formats")).to_have_text("wav, mp3")
        expect(page.get_by_test_id("plan-pro-storage")).to_have_text("5 GB")
        expect(page.get_by_test_id("storage-quota")).to_have_text("5 GB")  # the same unit as the table

        expect(page.get_by_test_id("plan-pro-action")).to_have_text("Current plan")
        expect(page.get_by_test_id("downgrade-starter")).to_have_text("Downgrade")
        expect(page.get_by_test_id("upgrade-business")).to_have_text("Upgrade")
        expect(page.get_by_test_id("upgrade-starter")).to_have_count(0)
        expect(page.get_by_test_id("usage-chart-y-title")).to_be_visible()
