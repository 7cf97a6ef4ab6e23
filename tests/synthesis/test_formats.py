"""Delivery formats through the API and the worker: each request's format, sample rate and bitrate are kept on the
job, shown by the API, part of the cache key and delivered in the audio; impossible combinations are refused."""

import importlib
import io
import json

import pytest
import soundfile as sf
from django.apps import apps

from billing.models import Plan
from billing.services import plan_assign
from synthesis.models import SynthesisJob
from synthesis.runner import synthesis_job_execute
from tests.support.media import mp3_frame_bitrates, pcm16le_decode, ulaw_decode

TEXT = "Formats travel with the job."


def _post(api, body):
    return api.post("/v1/tts", data=json.dumps({"text": TEXT, **body}), content_type="application/json")


def _audio(api, job_id):
    response = api.get(f"/v1/tts/{job_id}/audio")
    assert response.status_code == 200
    return response, b"".join(response.streaming_content)


@pytest.fixture
def paid(user):
    plan_assign(user=user, slug="business")  # every format, and up to 10 jobs in flight
    return user


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, ("wav", 22050, None)),
        ({"format": "mp3"}, ("mp3", 22050, 128)),
        ({"format": "mp3", "sample_rate": 8000}, ("mp3", 8000, 64)),  # MPEG-2.5 stops at 64 kbps
        ({"format": "mp3", "sample_rate": 48000, "bitrate": 192}, ("mp3", 48000, 192)),
        ({"format": "ogg"}, ("ogg", 48000, None)),  # Opus has no 22.05 kHz
        ({"format": "ogg", "sample_rate": 16000}, ("ogg", 16000, None)),
        ({"format": "flac", "sample_rate": 44100}, ("flac", 44100, None)),
        ({"format": "pcm", "sample_rate": 16000}, ("pcm", 16000, None)),
        ({"format": "ulaw"}, ("ulaw", 8000, None)),
        ({"format": "ulaw", "sample_rate": 8000}, ("ulaw", 8000, None)),
    ],
)
def test_job_keeps_and_shows_format_rate_and_bitrate(api, paid, body, expected):
    response = _post(api, body)

    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["format"], job["sample_rate"], job["bitrate"]) == expected
    row = SynthesisJob.objects.get(pk=job["id"])
    assert (row.output_format, row.sample_rate, row.bitrate) == expected
    assert api.get(f"/v1/tts/{job['id']}").json()["bitrate"] == expected[2]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"format": "ogg", "sample_rate": 22050}, "invalid_sample_rate"),
        ({"format": "ogg", "sample_rate": 44100}, "invalid_sample_rate"),
        ({"format": "ulaw", "sample_rate": 16000}, "invalid_sample_rate"),
        ({"format": "wav", "sample_rate": 11025}, "invalid_sample_rate"),
        ({"format": "wav", "sample_rate": "fast"}, "invalid_sample_rate"),
        ({"format": "mp3", "bitrate": 100}, "invalid_bitrate"),
        ({"format": "mp3", "bitrate": 192}, "invalid_bitrate"),  # the voice's 22.05 kHz: MPEG-2, 160 at most
        ({"format": "mp3", "sample_rate": 8000, "bitrate": 128}, "invalid_bitrate"),
        ({"format": "wav", "bitrate": 128}, "invalid_bitrate"),
        ({"format": "mp3", "bitrate": "high"}, "invalid_bitrate"),
    ],
)
def test_impossible_combinations_are_refused_with_a_stable_code(api, paid, body, code):
    response = _post(api, body)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert SynthesisJob.objects.count() == 0


def test_refusals_say_what_is_supported(api, paid):
    rate = _post(api, {"format": "ogg", "sample_rate": 22050}).json()["error"]
    bitrate = _post(api, {"format": "mp3", "sample_rate": 8000, "bitrate": 128}).json()["error"]

    assert rate["detail"]["supported"] == [8000, 16000, 24000, 48000]
    assert bitrate["detail"]["supported"] == [32, 64]


def test_same_text_in_another_rate_bitrate_or_format_is_another_cache_entry(api, paid):
    variants = [
        {"format": "mp3"},
        {"format": "mp3", "bitrate": 64},
        {"format": "mp3", "sample_rate": 16000},
        {"format": "wav"},
        {"format": "wav", "sample_rate": 16000},
        {"format": "pcm", "sample_rate": 16000},
        {"format": "ulaw"},
    ]
    keys = [_post(api, variant).json()["id"] for variant in variants]
    keys = [SynthesisJob.objects.get(pk=job_id).cache_key for job_id in keys]

    assert len(set(keys)) == len(variants)
    # The explicit default is the default: the same key.
    again = SynthesisJob.objects.get(pk=_post(api, {"format": "mp3", "bitrate": 128}).json()["id"])
    assert again.cache_key == keys[0]


def test_mp3_job_is_delivered_at_its_rate_and_bitrate_and_answers_the_same_request_from_cache(api, paid):
    job = _post(api, {"format": "mp3", "sample_rate": 16000, "bitrate": 64}).json()

    assert synthesis_job_execute(job_id=job["id"]) == "succeeded"

    response, data = _audio(api, job["id"])
    assert response["Content-Type"] == "audio/mpeg"
    assert mp3_frame_bitrates(data) == {64}
    decoded, rate = sf.read(io.BytesIO(data))
    done = api.get(f"/v1/tts/{job['id']}").json()
    assert rate == 16000
    assert len(decoded) / rate == pytest.approx(done["duration_seconds"], abs=0.03)
    hit = _post(api, {"format": "mp3", "sample_rate": 16000, "bitrate": 64})
    assert hit.status_code == 200
    assert hit.json()["cached"] is True
    other_bitrate = _post(api, {"format": "mp3", "sample_rate": 16000, "bitrate": 32})
    assert other_bitrate.status_code == 202
    assert other_bitrate.json()["cached"] is False


def test_raw_formats_are_delivered_headerless(api, paid):
    pcm = _post(api, {"format": "pcm", "sample_rate": 24000}).json()
    ulaw = _post(api, {"format": "ulaw"}).json()
    for job in (pcm, ulaw):
        assert synthesis_job_execute(job_id=job["id"]) == "succeeded"

    pcm_response, pcm_data = _audio(api, pcm["id"])
    ulaw_response, ulaw_data = _audio(api, ulaw["id"])

    assert pcm_response["Content-Type"] == "application/octet-stream"
    assert ulaw_response["Content-Type"] == "audio/basic"
    assert pcm_response["Content-Disposition"].endswith('.pcm"')
    pcm_seconds, ulaw_seconds = (api.get(f"/v1/tts/{job['id']}").json()["duration_seconds"] for job in (pcm, ulaw))
    # Two bytes a sample at 24 kHz, one byte a sample at 8 kHz: the length alone gives the duration.
    assert len(pcm_decoded := pcm16le_decode(pcm_data)) / 24000 == pytest.approx(pcm_seconds, abs=1 / 8000)
    assert len(ulaw_decoded := ulaw_decode(ulaw_data)) / 8000 == pytest.approx(ulaw_seconds, abs=1 / 8000)
    assert pcm_decoded.std() > 0.01
    assert ulaw_decoded.std() > 0.01


def test_free_plan_delivers_wav_and_mp3_only(api, user):
    for fmt in ("pcm", "ulaw", "ogg", "flac"):
        response = _post(api, {"format": fmt})
        assert response.status_code == 402
        assert response.json()["error"]["code"] == "plan_forbids_format"
        assert response.json()["error"]["detail"]["allowed"] == ["wav", "mp3"]
    assert _post(api, {"format": "mp3", "sample_rate": 8000, "bitrate": 32}).status_code == 202


def test_paid_plans_deliver_every_format(db):
    for slug in ("starter", "pro", "business"):
        assert set(Plan.objects.get(slug=slug).allowed_formats) == {"wav", "mp3", "ogg", "flac", "pcm", "ulaw"}


def test_data_migration_adds_the_raw_formats_without_undoing_an_operator(db):
    migration = importlib.import_module("billing.migrations.0007_plan_formats_pcm_ulaw")
    Plan.objects.filter(slug="pro").update(allowed_formats=["wav", "mp3", "ogg", "flac"])
    Plan.objects.filter(slug="starter").update(allowed_formats=["wav", "mp3"])  # an operator took ogg and flac
    Plan.objects.filter(slug="free").update(allowed_formats=["wav", "mp3"])

    migration.add_formats(apps, None)

    assert Plan.objects.get(slug="pro").allowed_formats == ["wav", "mp3", "ogg", "flac", "pcm", "ulaw"]
    assert Plan.objects.get(slug="starter").allowed_formats == ["wav", "mp3", "pcm", "ulaw"]
    assert Plan.objects.get(slug="free").allowed_formats == ["wav", "mp3"]
    migration.remove_formats(apps, None)
    assert Plan.objects.get(slug="pro").allowed_formats == ["wav", "mp3", "ogg", "flac"]
