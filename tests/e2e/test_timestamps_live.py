"""Word timestamps on the live stack (Daphne + a Celery worker running Piper): the answer of `wait: true` carries
the words, and a streamed job (`POST /v1/tts/stream`, which answers audio) has them on the job afterwards, each
word's span speech in the audio the stream delivered."""

import itertools

import httpx
import numpy as np
import pytest

from accounts.services import api_key_create
from billing.services import plan_assign
from tests.factories import UserFactory
from tests.support.media import pcm16le_decode

from .helpers import bearer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = "The first sentence is short. The second one costs ₦2,500, and takes a little longer to say."


@pytest.fixture
def secret(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    return api_key_create(user=user, name="timestamps").secret


def _check_words(words, samples, rate):
    duration = len(samples) / rate
    assert [w["text"] for w in words] == TEXT.split()
    for before, after in itertools.pairwise(words):
        assert before["end"] <= after["start"]
    for word in words:
        assert 0 <= word["start"] < word["end"] <= duration + 0.001
        span = samples[int(word["start"] * rate) : int(word["end"] * rate)]
        # Three times the loudest pause between Piper's sentences (synthesis/test_timestamps.py: SILENCE_RMS).
        assert float(np.sqrt(np.mean(span**2))) > 0.012, word


def test_wait_answer_and_streamed_job_carry_words_matching_their_audio(stack, secret):
    waited = httpx.post(
        f"{stack.base_url}/v1/tts",
        json={"text": TEXT, "format": "pcm", "wait": True, "timestamps": True, "speed": 1.5},
        headers=bearer(secret),
        timeout=120,
    )
    assert waited.status_code == 200, waited.text
    job = waited.json()
    assert job["timestamps"] is True
    audio = httpx.get(f"{stack.base_url}/v1/tts/{job['id']}/audio", headers=bearer(secret), timeout=30).content
    _check_words(job["words"], pcm16le_decode(audio), job["sample_rate"])

    with httpx.stream(
        "POST",
        f"{stack.base_url}/v1/tts/stream",
        json={"text": TEXT, "format": "pcm", "timestamps": True, "seed": 7},
        headers=bearer(secret),
        timeout=120,
    ) as response:
        streamed = b"".join(response.iter_bytes())
        job_id = response.headers["x-job-id"]
    assert response.status_code == 200
    streamed_job = httpx.get(f"{stack.base_url}/v1/tts/{job_id}", headers=bearer(secret), timeout=30).json()
    assert streamed_job["status"] == "succeeded"
    # The stream joins its pieces without the stored file's crossfades: at most a few ms per seam apart.
    _check_words(streamed_job["words"], pcm16le_decode(streamed), streamed_job["sample_rate"])
