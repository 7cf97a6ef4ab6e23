"""Word timestamps in a real browser, on the live stack: the Synthesize page's "Word timestamps" box sends
`timestamps: true`, the words appear beside the player and the word being said is highlighted as the audio plays
(and after a seek); History's player does the same for a timed job. No inline script or style (the CSP)."""

import re

import pytest
from playwright.sync_api import expect

from billing.plans import PLAN_CATALOG
from billing.services import plan_ensure
from tests.factories import UserFactory

from .browser import browser_page, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "I paid ₦2,500 for it today. The market opens early on Monday morning."
WORDS = TEXT.split()

CURRENT = """(selector) => {
    const words = Array.from(document.querySelectorAll(selector + ' .word'));
    return words.findIndex((w) => w.classList.contains('current'));
}"""


@pytest.fixture(autouse=True)
def _plans():
    for spec in PLAN_CATALOG:
        plan_ensure(slug=spec["slug"])


def test_playground_highlights_the_word_being_said_and_history_too(stack):
    user = UserFactory()
    with browser_page(stack.base_url) as page:
        log_in(page, user.email)
        page.fill("#tts-text", TEXT)
        page.check("#tts-timestamps")
        page.click("#tts-submit")
        expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=60_000)

        words = page.get_by_test_id("job-words")
        expect(words).to_be_visible()
        expect(words.locator(".word")).to_have_text(WORDS)
        expect(page.locator("#job-captions-vtt")).to_have_attribute("href", re.compile(r"/captions\.vtt$"))
        times = page.evaluate(
            "() => Array.from(document.querySelectorAll('#job-words .word')).map((w) => Number(w.dataset.start))"
        )
        assert times == sorted(times)

        # A seek to the middle of "₦2,500" highlights it (and only it).
        naira = WORDS.index("₦2,500")
        page.evaluate(
            "(t) => { const a = document.getElementById('job-audio'); a.currentTime = t; }",
            (times[naira] + times[naira + 1]) / 2,
        )
        page.wait_for_function(f"() => ({CURRENT})('#job-words') === {naira}", timeout=10_000)
        expect(words.locator(".word.current")).to_have_count(1)
        expect(words.locator(".word.current")).to_have_text("₦2,500")

        # Playing from the start, the highlight moves forward through the text as the audio plays.
        page.evaluate("() => { const a = document.getElementById('job-audio'); a.currentTime = 0; a.play(); }")
        page.wait_for_function(
            f"() => ({CURRENT})('#job-words') >= 0 && ({CURRENT})('#job-words') <= 1", timeout=10_000
        )
        page.wait_for_function(f"() => ({CURRENT})('#job-words') >= {naira + 2}", timeout=20_000)
        audio_time = page.evaluate("() => document.getElementById('job-audio').currentTime")
        assert audio_time >= times[naira + 2]

        # History: the timed job's player highlights its words once it plays.
        page.goto("/history/")
        row = page.locator("table.history tbody tr").first
        page.evaluate("() => document.querySelector('table.history audio').play()")
        history_words = row.get_by_test_id("words")
        expect(history_words).to_be_visible(timeout=10_000)
        expect(history_words.locator(".word")).to_have_text(WORDS)
        page.wait_for_function(
            "() => document.querySelector('table.history .words .word.current') !== null", timeout=20_000
        )
