"""The whole pipeline with real parts: Daphne, a Celery worker process, Redis, Piper, websockets."""

import io
import uuid

import httpx
import pytest
import soundfile as sf

from accounts.services import api_key_create
from billing.services import plan_assign
from synthesis.models import SynthesisJob
from tests.factories import UserFactory

from .helpers import bearer, events_until_final, metric, open_socket, submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = (
    "Welcome to the platform. This sentence is here to be spoken by a real model, "
    "and the next one checks that long text works too."
)
ENGINE_RUNS = 'odiadev_engine_runs_total{engine="piper"}'


@pytest.fixture
def secret():
    user = UserFactory()
    plan_assign(user=user, slug="pro")  # every format, five jobs at a time
    return api_key_create(user=user, name="e2e").secret


def test_submit_follow_live_download_then_cache_hit(stack, secret):
    with open_socket(stack, api_key=secret) as ws:
        # given a live websocket, when a job is submitted over HTTP
        response = submit(stack, secret, text=TEXT, voice_id="joe", format="mp3", speed=1.0)
        assert response.status_code == 202, response.text
        job = response.json()
        assert uuid.UUID(job["id"])
        assert job["status"] == "queued"
        assert job["cached"] is False
        assert job["audio_url"] is None

        # then the socket shows it go queued -> running -> succeeded
        events = events_until_final(ws, job["id"])
    assert [e["status"] for e in events] == ["queued", "running", "succeeded"]
    done = events[-1]
    assert done["audio_url"].startswith(stack.base_url + f"/v1/tts/{job['id']}/audio?token=")

    # and the audio downloads (by its signed link, no credentials) and decodes to real audio
    audio = httpx.get(done["audio_url"], timeout=30)
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/mpeg"
    samples, rate = sf.read(io.BytesIO(audio.content))
    assert rate == 22050
    assert abs(len(samples) / rate - done["duration_seconds"]) < 0.1
    assert done["duration_seconds"] > 3
    assert done["engine_seconds"] > 0

    # the owner can fetch the job and its audio with the key as well
    fetched = httpx.get(f"{stack.base_url}/v1/tts/{job['id']}", headers=bearer(secret), timeout=10).json()
    assert fetched["status"] == "succeeded"
    assert httpx.get(f"{stack.base_url}/v1/tts/{job['id']}/audio", headers=bearer(secret)).content == audio.content

    # an identical request is answered from the cache with no engine work
    runs_before = metric(stack, ENGINE_RUNS)
    # (the same text after normalisation: NFC, whitespace runs collapsed, ends trimmed)
    again = submit(stack, secret, text="  " + TEXT.replace(". ", ".  \n\t") + "\n", voice_id="joe", format="mp3")
    assert again.status_code == 200
    hit = again.json()
    assert hit["cached"] is True
    assert hit["status"] == "succeeded"
    assert hit["id"] != job["id"]
    assert hit["engine_seconds"] == 0
    assert httpx.get(hit["audio_url"], timeout=10).content == audio.content
    assert metric(stack, ENGINE_RUNS) == runs_before
    assert metric(stack, "odiadev_cache_hits_total") == 1


@pytest.mark.parametrize(
    "change",
    [{"text": TEXT + " Yes."}, {"speed": 1.25}, {"format": "wav"}, {"seed": 42}],
    ids=["text", "speed", "format", "seed"],
)
def test_a_request_differing_in_one_parameter_is_a_miss(stack, secret, change):
    body = {"text": TEXT, "voice_id": "joe", "format": "mp3", "speed": 1.0, "wait": True}
    first = submit(stack, secret, **body)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "succeeded"
    runs_before = metric(stack, ENGINE_RUNS)

    other = submit(stack, secret, **{**body, **change})

    assert other.status_code == 200
    assert other.json()["status"] == "succeeded"
    assert other.json()["cached"] is False
    assert metric(stack, ENGINE_RUNS) == runs_before + 1
    # and the original still hits
    assert submit(stack, secret, **body).json()["cached"] is True


def test_wait_returns_the_finished_job_and_history_lists_newest_first(stack, secret):
    first = submit(stack, secret, text="First job.", format="wav", wait=True)
    second = submit(stack, secret, text="Second job.", format="flac", wait=True)

    assert first.status_code == second.status_code == 200
    assert second.json()["status"] == "succeeded"
    assert second.json()["format"] == "flac"
    listing = httpx.get(f"{stack.base_url}/v1/tts?page_size=1", headers=bearer(secret), timeout=10).json()
    assert listing["count"] == 2
    assert [job["id"] for job in listing["results"]] == [second.json()["id"]]
    assert listing["next"]
    assert SynthesisJob.objects.filter(status="succeeded").count() == 2


def test_a_worker_warm_starts_its_engines_and_encoder_and_reports_them(stack):
    health = httpx.get(f"{stack.base_url}/health", timeout=10).json()

    assert health["status"] == "ok"
    (worker,) = health["checks"]["workers"]["alive"]
    assert [engine["name"] for engine in worker["engines"]] == ["piper", "dia"]
    assert worker["encoder"]["name"] == "resemblyzer"
    log = (stack.log_dir / "worker.log").read_text()
    assert "Piper engine loaded" in log
    assert "DIA model loaded" in log
    assert "Resemblyzer encoder loaded" in log
    # VRAM of the GPU engine against its budget (zero in use: this worker runs Dia on the CPU)
    assert worker["vram"]["dia"]["budget_gb"] == 14.5
    metrics = httpx.get(f"{stack.base_url}/metrics", timeout=10).text
    assert 'odiadev_vram_budget_bytes{engine="dia",' in metrics
    assert "odiadev_vram_used_bytes{" in metrics
