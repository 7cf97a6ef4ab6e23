"""A real browser: log in, synthesize, watch the status go live to done, and get a playable <audio>."""

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

from .browser import browser_page, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(stack, customer):
    with browser_page(stack.base_url) as page:
        yield page


@pytest.fixture
def customer():
    return UserFactory()


def test_log_in_synthesize_and_play(customer, page):
    log_in(page, customer.email)
    statuses = []
    page.expose_function("recordStatus", lambda status: statuses.append(status))
    # Record every status the page shows, to prove it changed live (no reload) rather than jumping to the end.
    page.evaluate(
        """() => {
               const el = document.getElementById('job-status');
               new MutationObserver(() => window.recordStatus(el.textContent))
                 .observe(el, {childList: true, characterData: true, subtree: true});
           }"""
    )

    page.fill("#tts-text", "Hello from the browser. This is a real voice speaking.")
    page.select_option("#tts-format", "mp3")
    page.click("#tts-submit")

    expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=60_000)
    audio = page.locator("#job-audio")
    expect(audio).to_be_visible()
    src = audio.get_attribute("src")
    assert "/v1/tts/" in src
    assert "/audio?token=" in src
    # The browser loads the audio and knows its duration: it is playable.
    duration = page.evaluate(
        """() => new Promise((resolve, reject) => {
               const a = document.getElementById('job-audio');
               if (a.readyState >= 1) return resolve(a.duration);
               a.addEventListener('loadedmetadata', () => resolve(a.duration));
               a.addEventListener('error', () => reject(new Error('audio error ' + (a.error && a.error.code))));
               a.load();
           })"""
    )
    assert duration > 1.5
    played = page.evaluate("() => document.getElementById('job-audio').play().then(() => true)")
    assert played is True
    assert page.locator("#job-download").get_attribute("href") == src + "&download=1"  # saved, not played
    assert statuses[-1] == "succeeded"
    assert len(statuses) >= 2, statuses  # at least one state before done was shown

    page.goto("/history/")
    expect(page.locator("table tbody tr")).to_have_count(1)
    expect(page.locator("table tbody audio")).to_have_count(1)


def test_bad_input_shows_the_error_next_to_the_form(customer, page):
    log_in(page, customer.email)

    page.fill("#tts-text", "   ")
    page.click("#tts-submit")

    expect(page.locator("#job-error")).to_contain_text("text_empty")


def test_api_keys_page_creates_shows_once_and_revokes(customer, page):
    log_in(page, customer.email)
    page.goto("/keys/")

    page.fill("input[name=name]", "laptop")
    page.click("text=Create key")
    secret = page.locator("#new-key-secret").text_content()
    assert secret.startswith("odk_")
    expect(page.locator("table tbody tr")).to_have_count(1)
    expect(page.locator("table tbody")).to_contain_text("laptop")
    expect(page.locator("table tbody")).not_to_contain_text(secret)

    page.reload()
    expect(page.locator("#new-key-secret")).to_have_count(0)
    expect(page.locator("table tbody tr")).to_have_count(1)  # reloading issued no second key

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Revoke")
    expect(page.locator("table tbody")).to_contain_text("revoked")
