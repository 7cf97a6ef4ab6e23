"""The Synthesize page, History and the voice library in a real browser, on the live stack: the plan's limits and
formats, a counter that counts as the server does, no silent truncation, Ctrl+Enter, the spoken text beside the
player, no stale badge or "No jobs yet", remembered choices, pcm as a download only, and voice previews."""

import pytest
from playwright.sync_api import expect

from billing.plans import PLAN_CATALOG
from billing.services import plan_assign, plan_ensure
from tests.factories import UserFactory

from .browser import browser_page, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Whitespace runs (CRLF, tabs, U+001C and U+0085, which Python's `\s` takes and JavaScript's does not), a combining
# accent (one character after NFC), emoji (one code point, two UTF-16 units each) and U+FEFF (not whitespace in
# Python: counted). Raw .length of this is far above what the server counts.
TRICKY = "  Cafe\u0301 au lait 😀👍🏽\r\n\r\n\tcosts ₦2,500\x1c\x85 today\ufeff.   \r\n"

COUNT_ON_SERVER = """async () => {
    const response = await fetch('/v1/tts', {credentials: 'same-origin'});
    return (await response.json()).results[0].characters;
}"""


@pytest.fixture(autouse=True)
def _plans():
    # The catalog's plans, as the data migration seeds them (a transactional test empties the tables first).
    for spec in PLAN_CATALOG:
        plan_ensure(slug=spec["slug"])


@pytest.fixture
def free_user():
    return UserFactory()


@pytest.fixture
def pro_user():
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    return user


def test_free_plan_playground_counts_like_the_server_and_blocks_over_the_limit(stack, free_user):
    with browser_page(stack.base_url) as page:
        log_in(page, free_user.email)
        expect(page.get_by_test_id("plan-limits")).to_contain_text("Free")
        expect(page.get_by_test_id("plan-limits")).to_contain_text("1,000")
        ogg = page.locator("#tts-format option[value=ogg]")
        expect(ogg).to_be_disabled()
        expect(ogg).to_contain_text("Starter plan")
        expect(page.locator("#tts-format option[value=mp3]")).to_be_enabled()
        expect(page.get_by_test_id("recent-jobs")).to_contain_text("No jobs yet.")

        # The counter, then the server, on tricky text; submitted with Ctrl+Enter.
        page.fill("#tts-text", TRICKY)
        shown = int(page.get_by_test_id("char-count").text_content())
        assert shown < len(TRICKY)
        page.locator("#tts-text").press("Control+Enter")
        expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=60_000)
        assert page.evaluate(COUNT_ON_SERVER) == shown
        # What the voice said, beside the player: normalisation spelled out the money.
        expect(page.get_by_test_id("job-spoken")).to_be_visible()
        expect(page.get_by_test_id("job-spoken")).to_contain_text("two thousand five hundred naira")
        expect(page.locator("#job-audio")).to_be_visible()
        # "Recent" shows the job without a reload.
        expect(page.get_by_test_id("recent-jobs")).not_to_contain_text("No jobs yet.")
        expect(page.locator("#recent-jobs li")).to_have_count(1)

        # The same again is a cache hit; a later refusal clears the badge.
        page.click("#tts-submit")
        expect(page.locator("#job-cached")).to_be_visible(timeout=30_000)
        page.fill("#tts-text", "   ")
        page.click("#tts-submit")
        expect(page.locator("#job-error")).to_contain_text("text_empty")
        expect(page.locator("#job-cached")).to_be_hidden()

        # Near the limit: a warning; over it: the button is off and says why; nothing is cut.
        page.fill("#tts-text", "a" * 950)
        expect(page.get_by_test_id("limit-message")).to_contain_text("50 characters left")
        expect(page.locator("#tts-submit")).to_be_enabled()
        page.fill("#tts-text", "a" * 6000)
        assert page.eval_on_selector("#tts-text", "el => el.value.length") == 6000
        expect(page.get_by_test_id("char-count")).to_have_text("6,000")
        expect(page.get_by_test_id("limit-message")).to_contain_text("the limit on the Free plan is 1,000")
        expect(page.locator("#tts-submit")).to_be_disabled()
        page.locator("#tts-text").press("Control+Enter")
        expect(page.locator("#job-error")).to_contain_text("text_empty")  # still the earlier result: nothing sent
        # Whitespace runs count once, as on the server: 1,000 letters among many spaces are within the limit.
        page.fill("#tts-text", ("a" * 10 + "    \r\n") * 100)
        expect(page.get_by_test_id("char-count")).to_have_text("1,099")
        page.fill("#tts-text", ("a" * 9 + "   ") * 100)
        expect(page.get_by_test_id("char-count")).to_have_text("999")
        expect(page.locator("#tts-submit")).to_be_enabled()

        # Choices are remembered in this browser.
        page.select_option("#tts-format", "mp3")
        page.fill("#tts-speed", "1.5")
        page.reload()
        expect(page.locator("#tts-format")).to_have_value("mp3")
        expect(page.locator("#tts-speed")).to_have_value("1.5")


def test_pro_plan_offers_every_format_and_pcm_is_download_only(stack, pro_user):
    with browser_page(stack.base_url) as page:
        log_in(page, pro_user.email)
        expect(page.get_by_test_id("plan-limits")).to_contain_text("5,000")
        for fmt in ("wav", "mp3", "ogg", "flac", "pcm", "ulaw"):
            expect(page.locator(f"#tts-format option[value={fmt}]")).to_be_enabled()

        page.fill("#tts-text", "On Monday, the committee met to plan the harvest.")
        page.select_option("#tts-format", "pcm")
        page.click("#tts-submit")
        expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=60_000)

        expect(page.locator("#job-audio")).to_be_hidden()
        download = page.get_by_test_id("job-download")
        expect(download).to_be_visible()
        response = page.request.get(download.get_attribute("href"))
        assert response.status == 200
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="odiadev-20')
        assert disposition.endswith('-on-monday-the-committee.pcm"')

        page.goto("/history/")
        row = page.locator("table.history tbody tr").first
        expect(row.locator("audio")).to_have_count(0)
        expect(row).to_contain_text("download only")
        expect(row.get_by_test_id("download")).to_be_visible()


def test_history_players_have_full_controls_at_1280px(stack, free_user):
    with browser_page(stack.base_url) as page:
        page.set_viewport_size({"width": 1280, "height": 800})
        log_in(page, free_user.email)
        page.fill("#tts-text", "A short line for the history player.")
        page.click("#tts-submit")
        expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=60_000)
        page.goto("/history/")
        player = page.locator("table.history audio")
        expect(player).to_have_count(1)
        # Wide enough for Chromium to draw play, time, seek and volume rather than a squashed pill.
        assert player.bounding_box()["width"] >= 260


def test_voice_library_plays_a_preview_made_by_the_worker(stack, free_user):
    with browser_page(stack.base_url) as page:
        log_in(page, free_user.email)
        page.goto("/voices/")
        library = page.get_by_test_id("voice-library")
        expect(library).to_contain_text("Joe")
        player = library.locator("audio.player")
        expect(player).to_have_count(1, timeout=60_000)
        duration = page.evaluate(
            """() => new Promise((resolve, reject) => {
                   const a = document.querySelector('#voice-library audio');
                   a.addEventListener('loadedmetadata', () => resolve(a.duration));
                   a.addEventListener('error', () => reject(new Error('audio error')));
                   a.load();
               })"""
        )
        assert duration > 1.0
