"""Without a cloning engine the Voices page says so before anyone records, and the Synthesize page offers no cloned
voice. In-process (Django's live server), so the test can run the site with CLONING_ENGINE empty."""

import pytest
from playwright.sync_api import expect

from billing.services import plan_assign
from tests.factories import ActiveVoiceFactory, UserFactory

from .browser import browser_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_no_cloning_engine_notice_and_no_cloned_voice_in_the_picker(live_server, settings):
    settings.CLONING_ENGINE = ""
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    voice = ActiveVoiceFactory(user=user, name="Ada clone")

    with browser_page(live_server.url) as page:
        log_in(page, user.email)
        expect(page.locator(f"#tts-voice option[value='{voice.id}']")).to_have_count(0)
        expect(page.get_by_test_id("cloned-hidden")).to_contain_text("No cloning engine is deployed")

        page.goto("/voices/")
        notice = page.get_by_test_id("no-cloning-engine")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("Cloned voices cannot speak on this server yet")
        expect(page.locator("#get-statement")).to_be_disabled()
        for button in page.locator(".rec-start").all():
            expect(button).to_be_disabled()
        expect(page.locator("#clone-submit")).to_be_disabled()
