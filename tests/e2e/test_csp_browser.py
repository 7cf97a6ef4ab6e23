"""Pages no other browser test opens, under the Content-Security-Policy and Permissions-Policy: Swagger UI renders
the API from its own files, the Django admin works, a confirmation asked by common.js (no inline handler) still
guards a form, and the microphone is usable on the Voices page only. `browser_page` fails each test on any policy
violation Chromium reports in the console."""

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory
from webhooks.services import webhook_endpoint_create

from .browser import browser_page, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(stack, settings):
    """A staff superuser with a webhook endpoint (rows made before the browser starts)."""
    user = UserFactory(is_staff=True, is_superuser=True)
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    endpoint = webhook_endpoint_create(
        user=user, url="https://93.184.215.14/hooks/odiadev", events=["job.succeeded"], description="csp"
    ).endpoint
    return user, endpoint


def test_swagger_ui_admin_and_confirmations_work_under_the_policies(stack, operator):
    user, endpoint = operator
    with browser_page(stack.base_url) as page:
        # Swagger UI: its bundle, init script (/v1/docs?script=) and the schema load, and the operations render.
        page.goto("/v1/docs")
        expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
        expect(page.locator(".opblock-summary-path", has_text="/v1/tts").first).to_be_visible()

        log_in(page, user.email)
        # The microphone: off on the dashboard, on for this origin on the Voices page.
        assert page.evaluate("() => document.featurePolicy.allowsFeature('microphone')") is False
        page.goto("/voices/")
        assert page.evaluate("() => document.featurePolicy.allowsFeature('microphone')") is True

        # A confirmation from data-confirm: dismissed, nothing happens; accepted, the secret rotates.
        page.goto(f"/webhooks/{endpoint.id}/")
        questions = []
        page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
        page.click("text=Rotate secret")
        page.wait_for_timeout(1000)
        assert questions == ["Rotate the secret? The old one keeps signing deliveries for 24 hours."]
        expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("text=Rotate secret")
        expect(page.get_by_test_id("webhook-secret")).to_be_visible()

        # The Django admin: index, a change list, a change form.
        page.goto("/admin/")
        expect(page.locator("#ops-panel-link")).to_be_visible()
        page.goto("/admin/webhooks/webhookendpoint/")
        expect(page.locator("#result_list")).to_be_visible()
        page.goto(f"/admin/webhooks/webhookendpoint/{endpoint.id}/change/")
        expect(page.locator("#webhookendpoint_form")).to_be_visible()
        for path in ("/history/", "/pronunciations/", "/provenance/", "/billing/"):
            page.goto(path)
            expect(page.locator("h1")).to_be_visible()
