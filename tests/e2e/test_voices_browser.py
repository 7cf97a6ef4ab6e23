"""The Voices page in a real browser with a fake microphone: record consent and a sample, see the voice go active."""

import pytest
from playwright.sync_api import expect

from billing.services import plan_assign
from tests.factories import UserFactory
from tests.support.media import SAMPLE_TEXT, encode_sf, speech

from .browser import browser_page, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def microphone_file(tmp_path):
    # Chromium's fake capture device plays this file (looped) as the microphone: real speech of one speaker.
    path = tmp_path / "microphone.wav"
    path.write_bytes(encode_sf(speech(SAMPLE_TEXT, rate=48000), 48000, "WAV", "PCM_16"))
    return path


@pytest.fixture
def page(stack, customer, microphone_file):
    fake_microphone = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_file}",
    )
    with browser_page(stack.base_url, extra_args=fake_microphone, permissions=("microphone",)) as page:
        yield page


@pytest.fixture
def customer():
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    return user


def _record(page, kind: str, seconds: float):
    box = page.locator(f'.recorder[data-kind="{kind}"]')
    box.locator(".rec-start").click()
    page.wait_for_timeout(seconds * 1000)
    box.locator(".rec-stop").click()
    expect(box).to_have_attribute("data-recorded", "true")


def test_record_consent_and_sample_then_see_the_voice_go_active(customer, page):
    log_in(page, customer.email)
    page.goto("/voices/")

    page.click("#get-statement")
    expect(page.locator("#statement")).to_contain_text(customer.email)
    # Well above the 3 s and 5 s minimums, so a loaded machine cannot make the recordings too short.
    _record(page, "consent", 6)
    _record(page, "sample", 9)
    page.fill("#voice-name", "Browser voice")
    page.click("#clone-submit")
    expect(page.locator("#clone-status")).to_be_visible()  # accepted; an error would show in #clone-error

    expect(page.get_by_test_id("clone-status")).to_have_text("active", timeout=60_000)
    row = page.locator("#voice-rows tr", has_text="Browser voice")
    expect(row.get_by_test_id("voice-status")).to_have_text("active")

    page.reload()
    expect(page.locator("#voice-rows tr", has_text="Browser voice").get_by_test_id("voice-status")).to_have_text(
        "active"
    )
