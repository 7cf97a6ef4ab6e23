"""The Pronunciation page in a browser: "Hear it" synthesizes through the API with the session and plays what
was said; the same word in another case is refused with the reason."""

import pytest
from playwright.sync_api import expect

from synthesis.pronunciations import pronunciation_create
from tests.factories import UserFactory

from .browser import browser_page, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def customer(stack):
    user = UserFactory()
    pronunciation_create(user=user, word="ODIADEV", replacement="oh dee ah dev")
    return user


def test_hear_it_plays_what_the_dictionary_makes_of_the_word(customer, stack):
    with browser_page(stack.base_url) as page:
        log_in(page, customer.email)
        page.goto("/pronunciations/")

        page.get_by_test_id("preview-odiadev").click()

        audio = page.get_by_test_id("preview-audio")
        expect(audio).to_be_visible(timeout=90_000)
        assert "/audio?token=" in audio.get_attribute("src")
        expect(page.get_by_test_id("preview-spoken")).to_contain_text("oh dee ah dev")
        duration = page.evaluate(
            """() => new Promise((resolve, reject) => {
                 const a = document.getElementById('preview-audio');
                 if (a.readyState >= 1) return resolve(a.duration);
                 a.addEventListener('loadedmetadata', () => resolve(a.duration));
                 a.addEventListener('error', () => reject(new Error('audio error')));
               })"""
        )
        assert duration > 0

        # The form's button says the replacement being typed, before anything is saved.
        page.fill("#pronunciation-replacement", "Lay goss")
        page.get_by_test_id("preview-replacement").click()
        expect(page.get_by_test_id("preview-spoken")).to_contain_text("Lay goss", timeout=90_000)

        # The same word in another case is refused, and the page says which entry exists.
        page.fill("input[name=word]", "odiadev")
        page.fill("#pronunciation-replacement", "oh dia dev")
        page.get_by_role("button", name="Add").click()
        expect(page.get_by_test_id("form-error")).to_contain_text("You already have an entry for “ODIADEV”")
        expect(page.get_by_test_id("pronunciations")).not_to_contain_text("oh dia dev")
