"""POST /v1/tts/stream: audio starts arriving before the whole text is synthesized, and it is the job's speech."""

import io
import json
import time
from datetime import datetime

import httpx
import pytest
import soundfile as sf

from accounts.services import api_key_create
from billing.services import plan_assign
from synthesis.models import SynthesisJob
from tests.factories import UserFactory
from tests.support.media import pcm16le_decode

from .helpers import bearer, open_socket, submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = (
    "The first sentence is short. The second one takes a little longer to say out loud. "
    "A third sentence follows, with a few more words in it than the others. "
    "And the fourth closes the paragraph, so the stream has several pieces to send."
)


@pytest.fixture
def secret(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    return api_key_create(user=user, name="stream").secret


def _stream(stack, secret, **body):
    started = time.monotonic()
    arrivals, chunks = [], []
    with httpx.stream(
        "POST", f"{stack.base_url}/v1/tts/stream", json=body, headers=bearer(secret), timeout=60
    ) as response:
        for chunk in response.iter_bytes():
            arrivals.append((time.monotonic() - started, time.time()))
            chunks.append(chunk)
        return response, arrivals, b"".join(chunks)


def test_first_audio_arrives_before_the_job_is_done(stack, secret):
    response, arrivals, audio = _stream(stack, secret, text=TEXT, format="pcm")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    job = SynthesisJob.objects.get(pk=response.headers["x-job-id"])
    assert job.status == "succeeded"
    assert len(arrivals) >= 2, "the audio came in pieces"
    first_wall = datetime.fromtimestamp(arrivals[0][1], tz=job.finished_at.tzinfo)
    assert first_wall < job.finished_at, "the first piece left before the whole text was synthesized"
    streamed_seconds = len(pcm16le_decode(audio)) / job.sample_rate
    assert abs(streamed_seconds - job.duration_seconds) < 0.5, "the stream is the job's speech"


def test_an_mp3_stream_plays_and_a_repeat_is_the_cached_file(stack, secret):
    response, _, audio = _stream(stack, secret, text=TEXT, format="mp3")
    again, _, cached = _stream(stack, secret, text=TEXT, format="mp3")

    samples, rate = sf.read(io.BytesIO(audio))
    assert response.status_code == 200
    assert len(samples) / rate > 5
    assert again.status_code == 200
    assert SynthesisJob.objects.get(pk=again.headers["x-job-id"]).cached is True
    assert sf.read(io.BytesIO(cached))[0].size > 0


def test_an_ogg_opus_stream_is_one_whole_file(stack, secret):
    response, arrivals, audio = _stream(stack, secret, text=TEXT + " " + TEXT, format="ogg")

    job = SynthesisJob.objects.get(pk=response.headers["x-job-id"])
    samples, rate = sf.read(io.BytesIO(audio))
    assert response.status_code == 200
    assert audio[:4] == b"OggS"
    assert len(arrivals) >= 2
    assert rate == job.sample_rate == 48000
    assert abs(len(samples) / rate - job.duration_seconds) < 0.5


def test_formats_that_cannot_stream_are_refused(stack, secret):
    response = httpx.post(
        f"{stack.base_url}/v1/tts/stream", json={"text": TEXT, "format": "flac"}, headers=bearer(secret), timeout=30
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "format_not_streamable"


def test_audio_streams_over_the_websocket_as_binary_frames(stack, secret):
    other = api_key_create(user=UserFactory(), name="other").secret
    with open_socket(stack, api_key=secret) as ws:
        job = submit(stack, secret, text=TEXT, format="pcm", stream=True).json()
        plain = submit(stack, secret, text="Not streamed.", format="pcm").json()
        foreign = submit(stack, other, text="Someone else's.", format="mp3", stream=True).json()
        ws.send(json.dumps({"type": "audio.subscribe", "job_id": job["id"]}))
        pieces, end = [], None
        while end is None:
            message = ws.recv(timeout=60)
            if isinstance(message, bytes):
                pieces.append(message)
            elif json.loads(message).get("type") == "audio.end":
                end = json.loads(message)
        errors = []
        for job_id in (plain["id"], foreign["id"]):
            ws.send(json.dumps({"type": "audio.subscribe", "job_id": job_id}))
            while True:
                message = json.loads(ws.recv(timeout=30))
                if message["type"] == "error":
                    errors.append(message["error"]["code"])
                    break

    finished = SynthesisJob.objects.get(pk=job["id"])
    assert end == {"type": "audio.end", "job_id": job["id"]}
    assert len(pieces) >= 2
    assert abs(len(pcm16le_decode(b"".join(pieces))) / finished.sample_rate - finished.duration_seconds) < 0.5
    assert errors == ["job_not_streamed", "not_found"]


def test_only_streamable_formats_can_be_streamed_over_the_websocket(stack, secret):
    response = submit(stack, secret, text=TEXT, format="wav", stream=True)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "format_not_streamable"


def test_a_streamed_cache_hit_streams_its_stored_file_over_the_websocket_at_once(stack, secret):
    text = "Cached once, streamed again."
    first = submit(stack, secret, text=text, format="pcm", wait=True).json()
    assert first["status"] == "succeeded"
    with open_socket(stack, api_key=secret) as ws:
        hit = submit(stack, secret, text=text, format="pcm", stream=True).json()
        assert hit["cached"] is True
        started = time.monotonic()
        ws.send(json.dumps({"type": "audio.subscribe", "job_id": hit["id"]}))
        pieces, end = [], None
        while end is None:
            message = ws.recv(timeout=30)
            if isinstance(message, bytes):
                pieces.append(message)
            elif json.loads(message).get("type") == "audio.end":
                end = json.loads(message)
        took = time.monotonic() - started

    stored = httpx.get(first["audio_url"], timeout=30).content
    assert b"".join(pieces) == stored
    assert took < 20  # not the stream's idle timeout (60 s) with nothing in it
