"""Two-factor log-in in a real browser: a staff user enrols an authenticator (the key read off the page, the codes
computed here as the app computes them), logs out, and logging in again asks for the code before the admin."""

import re

import pytest
from playwright.sync_api import expect

from tests.accounts.totp import totp_code
from tests.factories import PASSWORD, UserFactory

from .browser import browser_page, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_enrol_then_log_in_with_the_code(stack):
    operator = UserFactory(is_staff=True, is_superuser=True)
    with browser_page(stack.base_url) as page:
        log_in(page, operator.email)

        # enrol: a QR code and the key; confirm with the app's current code
        page.goto("/account/two-factor/")
        expect(page.get_by_test_id("mfa-qr").locator("svg")).to_be_visible()
        secret = page.get_by_test_id("mfa-secret").inner_text().strip()
        page.fill("input[name=code]", totp_code(secret))
        page.click("main form button[type=submit]")
        expect(page.get_by_test_id("mfa-status")).to_contain_text("On")

        # log out, then in: the password alone leads to the code page, not in
        page.click("header button[type=submit]")
        page.goto("/login/?next=/admin/")
        page.fill("input[name=username]", operator.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        expect(page.locator("h1")).to_have_text("Enter your code")
        page.goto("/admin/")
        expect(page).to_have_url(re.compile(r"/login/\?next="))  # not in yet

        page.goto("/login/code/")  # the password step is remembered for 5 minutes
        page.fill("input[name=code]", totp_code(secret, steps_ahead=1))  # the enrolment's step is spent
        page.click("main button[type=submit]")

        expect(page).to_have_url(re.compile(r"/admin/$"))
        expect(page.locator("#ops-panel-link")).to_be_visible()
