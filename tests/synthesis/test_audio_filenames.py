"""Downloads have readable names: `odiadev-<job date>-<first words>.<format>` in Content-Disposition, from the API
and from the dashboard's signed links; `?download=1` saves the file instead of playing it."""

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from synthesis.filenames import job_audio_filename, text_slug
from synthesis.serializers import job_audio_path
from tests.factories import SucceededJobFactory

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
