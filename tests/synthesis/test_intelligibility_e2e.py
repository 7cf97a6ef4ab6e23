"""A cloned job on the real stack is scored by the real worker after it succeeds; the stack's cloning engine is a
tiny random Dia, whose output no recogniser understands, so however it sounds it is no clone success."""

from __future__ import annotations

import time

import httpx
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.services import api_key_create
from billing.services import plan_assign
from ops.kpis import clone_quality_window, window_figures
from ops.rollups import rollups_refresh
from tests.e2e.helpers import bearer
from tests.factories import ActiveVoiceFactory, UserFactory
from tests.support.media import SAMPLE_TEXT, encode_sf, speech

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_cloned_job_is_scored_by_the_worker_and_gibberish_is_no_clone_success(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    secret = api_key_create(user=user, name="intelligibility").secret
    voice = ActiveVoiceFactory(user=user, sample_transcript=SAMPLE_TEXT)
    default_storage.save(voice.sample.name, ContentFile(encode_sf(speech(SAMPLE_TEXT), 16000, "WAV", "PCM_16")))

    response = httpx.post(
        f"{stack.base_url}/v1/tts",
        headers=bearer(secret),
        json={"text": "Now in my own voice.", "voice_id": str(voice.id), "wait": True},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    job = response.json()
    assert (job["status"], job["engine"]) == ("succeeded", "dia"), job
    # The customer had the audio before anything was heard; the score follows on the `default` queue.
    deadline, shown = time.monotonic() + 90, None
    while shown is None and time.monotonic() < deadline:
        time.sleep(0.5)
        shown = httpx.get(f"{stack.base_url}/v1/tts/{job['id']}", headers=bearer(secret), timeout=30).json()[
            "intelligibility"
        ]

    assert shown is not None, stack.logs()
    assert shown["model"].startswith("whisper-tiny.en")
    assert shown["threshold"] == settings.INTELLIGIBILITY_WER_THRESHOLD
    assert shown["wer"] > shown["threshold"], shown
    rollups_refresh(limit=3)
    assert window_figures("1h")["clone_success_rate"] == 0.0
    assert clone_quality_window("1h")["clone_intelligibility_pass_rate"] == 0.0
