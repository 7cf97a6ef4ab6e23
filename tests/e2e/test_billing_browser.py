"""The Billing page in a browser shows the plan, the usage bar and the chart; an over-quota submit says why."""

import pytest
from playwright.sync_api import expect

from odiadev.accounts.services import api_key_create
from odiadev.billing.services import account_refresh, usage_adjust
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
