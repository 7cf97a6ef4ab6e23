"""Downloads have readable names: `odiadev-<job date>-<first words>.<format>` in Content-Disposition, from the API
and from the dashboard's signed links; `?download=1` saves the file instead of playing it."""

from datetime import UTC, datetime

import httpx
import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from synthesis.filenames import job_audio_filename, text_slug
from synthesis.serializers import job_audio_path
from tests.factories import SucceededJobFactory, UserFactory

pytestmark = pytest.mark.django_db


def _job(user, text, output_format="mp3"):
    job = SucceededJobFactory(user=user, text=text, output_format=output_format)
    job.created_at = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    job.save(update_fields=["created_at"])
    return job


def test_the_name_is_the_date_and_the_first_words(user):
    job = _job(user, "On Monday, the committee met at 10:00 to discuss ₦2,500.")

    assert job_audio_filename(job) == "odiadev-2026-11-30-on-monday-the-committee.mp3"


def test_accents_are_dropped_and_text_without_latin_letters_is_named_by_the_job(user):
    assert text_slug("Élève café, très bien") == "eleve-cafe-tres-bien"
    emoji = _job(user, "😀 🎉 😀", output_format="pcm")

    assert job_audio_filename(emoji) == f"odiadev-2026-11-30-{str(emoji.id)[:8]}.pcm"


def test_the_api_names_the_file_inline_and_as_an_attachment_on_request(api, user):
    job = _job(user, "On Monday, the committee met.")

    played = api.get(f"/v1/tts/{job.id}/audio")
    saved = api.get(f"/v1/tts/{job.id}/audio?download=1")

    assert played.status_code == saved.status_code == 200
    assert played["Content-Disposition"] == 'inline; filename="odiadev-2026-11-30-on-monday-the-committee.mp3"'
    assert saved["Content-Disposition"] == 'attachment; filename="odiadev-2026-11-30-on-monday-the-committee.mp3"'


def test_the_dashboards_signed_link_carries_the_same_name_without_credentials(user):
    job = _job(user, "Hello there, general listener.", output_format="ulaw")

    response = APIClient().get(f"{job_audio_path(job)}&download=1")

    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == 'attachment; filename="odiadev-2026-11-30-hello-there-general-listener.ulaw"'
    )


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_openai_speech_and_the_stream_endpoint_name_the_file_too(stack):
    user = UserFactory()
    headers = {"Authorization": f"Bearer {api_key_create(user=user, name='names').secret}"}
    day = datetime.now(UTC).date().isoformat()

    speech = httpx.post(
        f"{stack.base_url}/v1/audio/speech",
        json={"model": "tts-1", "input": "Good morning, dear listeners everywhere.", "response_format": "mp3"},
        headers=headers,
        timeout=120,
    )
    with httpx.stream(
        "POST",
        f"{stack.base_url}/v1/tts/stream",
        json={"text": "Streamed words arrive early.", "format": "mp3"},
        headers=headers,
        timeout=120,
    ) as streamed:
        streamed.read()

    assert speech.status_code == 200
    assert speech.headers["content-disposition"] == f'inline; filename="odiadev-{day}-good-morning-dear-listeners.mp3"'
    assert streamed.status_code == 200
    assert streamed.headers["content-disposition"].endswith(f'odiadev-{day}-streamed-words-arrive-early.mp3"')
