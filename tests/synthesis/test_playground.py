"""The Synthesize page follows the account's plan (text limit, formats, the plan that unlocks the others), offers
cloned voices only where they can speak, and the voice library's previews are made once by the job machinery."""

import re

import pytest
from django.test import Client

from billing.plans import PLAN_CATALOG
from billing.services import plan_assign, plan_ensure
from synthesis.models import SynthesisJob
from synthesis.previews import PREVIEW_ACCOUNT_EMAIL
from synthesis.runner import synthesis_job_execute
from tests.factories import PASSWORD, ActiveVoiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plans(db):
    # The catalog's plans, as the data migration seeds them (an earlier transactional test may have emptied them).
    for spec in PLAN_CATALOG:
        plan_ensure(slug=spec["slug"])


@pytest.fixture
def browser(user):
    client = Client()
    assert client.login(username=user.email, password=PASSWORD)
    return client


def _options(html: str) -> dict[str, str]:
    return dict(re.findall(r'<option value="(\w+)" data-playable="\w+"([^>]*)>', html))


def test_free_plan_limits_and_locked_formats_name_the_plan_that_unlocks_them(browser):
    page = browser.get("/")
    html = page.content.decode()

    assert page.context["max_chars"] == 1000
    assert 'data-max-chars="1000"' in html
    assert "maxlength" not in html  # nothing cuts a pasted text short
    formats = {choice.name: choice for choice in page.context["formats"]}
    assert [name for name, choice in formats.items() if choice.allowed] == ["wav", "mp3"]
    assert formats["ogg"].unlocked_by == formats["pcm"].unlocked_by == "Starter"
    options = _options(html)
    assert "disabled" in options["ogg"]
    assert "disabled" in options["ulaw"]
    assert "disabled" not in options["mp3"]
    assert "ogg — Starter plan" in html


def test_pro_plan_has_every_format_and_its_longer_limit(browser, user):
    plan_assign(user=user, slug="pro")

    page = browser.get("/")

    assert page.context["max_chars"] == 5000
    assert all(choice.allowed for choice in page.context["formats"])
    assert "pcm (download only)" in page.content.decode()


def test_cloned_voices_are_offered_only_where_a_cloning_engine_runs(browser, user, settings):
    plan_assign(user=user, slug="pro")
    voice = ActiveVoiceFactory(user=user, name="Ada clone")

    settings.CLONING_ENGINE = "dia"
    with_engine = browser.get("/").content.decode()
    settings.CLONING_ENGINE = ""
    without = browser.get("/").content.decode()

    assert f'value="{voice.id}"' in with_engine
    assert f'value="{voice.id}"' not in without
    assert "No cloning engine is deployed" in without


def test_voices_page_says_there_is_no_cloning_engine_before_anyone_records(browser, user, settings):
    plan_assign(user=user, slug="pro")
    settings.CLONING_ENGINE = ""

    html = browser.get("/voices/").content.decode()

    assert 'data-testid="no-cloning-engine"' in html
    assert '<button type="button" id="get-statement" disabled>' in html
    assert html.count('class="rec-start" disabled') == 2

    settings.CLONING_ENGINE = "dia"
    html = browser.get("/voices/").content.decode()
    assert 'data-testid="no-cloning-engine"' not in html
    assert '<button type="button" id="get-statement">' in html


def test_a_voice_preview_is_synthesized_once_and_plays_from_a_signed_link(browser, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = browser.get("/voices/joe/preview").json()
    assert first["status"] == "queued"
    assert first["audio_url"] is None
    job = SynthesisJob.objects.get(user__email=PREVIEW_ACCOUNT_EMAIL)
    synthesis_job_execute(job_id=job.id)  # what the worker does with the queued job

    ready = browser.get("/voices/joe/preview").json()
    again = browser.get("/voices/joe/preview").json()

    assert ready["status"] == "succeeded"
    # The same job's audio (its signed token carries the second it was signed, so the query strings may differ).
    assert again["audio_url"].split("?")[0] == ready["audio_url"].split("?")[0]
    assert SynthesisJob.objects.filter(user__email=PREVIEW_ACCOUNT_EMAIL).count() == 1
    audio = Client().get(ready["audio_url"])  # no session, no API key
    assert audio.status_code == 200
    assert audio["Content-Type"] == "audio/mpeg"
    assert browser.get("/voices/nobody/preview").status_code == 404
    assert not Client().login(username=PREVIEW_ACCOUNT_EMAIL, password="")


def test_a_customer_account_at_the_preview_address_is_never_used_for_previews(browser):
    UserFactory(email=PREVIEW_ACCOUNT_EMAIL)  # signed up with the address, can log in

    answer = browser.get("/voices/joe/preview").json()

    assert answer == {"voice_id": "joe", "status": "waiting", "audio_url": None}
    assert not SynthesisJob.objects.exists()
