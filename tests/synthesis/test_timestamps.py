"""Word timestamps and captions: `timestamps: true` gives the job `words` that match the audio it delivers (at any
speed, across the crossfaded seams of a long text, after resampling), captions in SRT and WebVTT that standard
parsers read, and a clear refusal where the voice's engine cannot time words."""

import io
import itertools
import json

import numpy as np
import pytest
import soundfile as sf
import srt
import webvtt

from billing.services import plan_assign
from speech.engines.dia_testing import build_tiny_dia
from synthesis.models import SynthesisJob
from synthesis.runner import synthesis_job_execute
from synthesis.serving import engines_shutdown

# Three sentences in short segments (see `short_segments`): two crossfaded seams between engine generations.
TEXT = "I paid ₦2,500 for it today. The market opens early on Monday. Bring your receipts, please!"
WRITTEN = ["I", "paid", "₦2,500", "for", "it", "today.", "The", "market", "opens", "early", "on", "Monday."]
WRITTEN += ["Bring", "your", "receipts,", "please!"]
# The RMS of the pauses Piper leaves between sentences is mostly below this (measured: 0.0002-0.009); a word's span,
# at any speed, is well above three times it (measured: 0.037 and up).
SILENCE_RMS = 0.004


@pytest.fixture
def paid(user):
    plan_assign(user=user, slug="business")  # every format and sample rate
    return user


@pytest.fixture
def short_segments(settings):
    settings.TTS_SEGMENT_CHARS = 40  # one sentence per engine generation


def _submit(api, **body):
    response = api.post(
        "/v1/tts", data=json.dumps({"text": TEXT, "timestamps": True, **body}), content_type="application/json"
    )
    assert response.status_code in (200, 202), response.content
    return response.json()


def _run(api, job_id) -> dict:
    assert synthesis_job_execute(job_id=job_id) == "succeeded"
    job = api.get(f"/v1/tts/{job_id}").json()
    assert job["status"] == "succeeded"
    return job


def _delivered(api, job) -> tuple[np.ndarray, int]:
    response = api.get(f"/v1/tts/{job['id']}/audio")
    assert response.status_code == 200
    samples, rate = sf.read(io.BytesIO(b"".join(response.streaming_content)), dtype="float32")
    return samples, rate


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


@pytest.mark.parametrize(
    ("speed", "body"),
    [(1.0, {}), (0.5, {}), (2.0, {}), (1.0, {"sample_rate": 8000}), (2.0, {"sample_rate": 8000})],
    ids=["speed-1", "speed-0.5", "speed-2", "8kHz", "speed-2-8kHz"],
)
def test_words_match_the_delivered_audio(api, paid, short_segments, speed, body):
    job = _run(api, _submit(api, speed=speed, **body)["id"])
    samples, rate = _delivered(api, job)
    words = job["words"]
    duration = len(samples) / rate

    # The words of the text as sent, "₦2,500" one of them.
    assert [w["text"] for w in words] == WRITTEN
    assert rate == body.get("sample_rate", 22050)
    assert job["duration_seconds"] == pytest.approx(duration, abs=0.01)
    # Monotonic and inside the audio.
    for word in words:
        assert 0 <= word["start"] < word["end"] <= duration + 0.001, word
    for before, after in itertools.pairwise(words):
        assert before["end"] <= after["start"], (before, after)
    # Each word's span is speech: energy well above silence, in the audio as decoded from what was delivered.
    for word in words:
        span = samples[int(word["start"] * rate) : int(word["end"] * rate)]
        assert _rms(span) > 3 * SILENCE_RMS, word
    # And the pauses between sentences fall between words, not inside them: where one sentence ends and the next
    # begins there is a stretch of near silence.
    for end_word in ("today.", "Monday."):
        index = WRITTEN.index(end_word)
        gap = samples[int(words[index]["end"] * rate) : int(words[index + 1]["start"] * rate)]
        assert gap.size > 0.05 * rate
        assert _rms(gap) < 0.5 * _rms(samples), end_word
    # The spoken words take the time the speed gives them: "₦2,500" is five spoken words.
    naira = words[WRITTEN.index("₦2,500")]
    assert naira["end"] - naira["start"] > 2 * (words[1]["end"] - words[1]["start"])


def test_words_scale_with_speed(api, paid, short_segments):
    slow = _run(api, _submit(api, speed=0.5)["id"])["words"]
    fast = _run(api, _submit(api, speed=2.0)["id"])["words"]

    # (4x in theory; Piper gives each phoneme at least one frame, so fast speech shrinks a little less)
    assert slow[-1]["end"] > 2.5 * fast[-1]["end"]


def test_captions_parse_with_standard_parsers_and_follow_the_words(api, paid):
    job = _run(api, _submit(api)["id"])
    words = job["words"]

    srt_response = api.get(f"/v1/tts/{job['id']}/captions.srt")
    vtt_response = api.get(f"/v1/tts/{job['id']}/captions.vtt")

    assert srt_response.status_code == 200
    assert srt_response["Content-Type"].startswith("application/x-subrip")
    assert vtt_response["Content-Type"].startswith("text/vtt")
    subtitles = list(srt.parse(srt_response.content.decode()))
    captions = webvtt.from_buffer(io.StringIO(vtt_response.content.decode())).captions
    srt_cues = [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subtitles]
    vtt_cues = [(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.text) for c in captions]
    assert vtt_cues == srt_cues
    for cues in (srt_cues, vtt_cues):
        # Every word once, in order; a cue never runs past a sentence end; cues in time order.
        assert " ".join(text for _, _, text in cues).split() == WRITTEN
        assert all(not text.rstrip(".!?").count(".") and len(text.split()) <= 7 for _, _, text in cues)
        assert cues[0][0] == pytest.approx(words[0]["start"], abs=0.002)
        assert cues[-1][1] == pytest.approx(words[-1]["end"], abs=0.002)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues))
        assert [text.split()[-1] for _, _, text in cues if text.endswith((".", "!"))] == [
            "today.",
            "Monday.",
            "please!",
        ]


def test_captions_of_another_accounts_job_are_not_found(api, paid, other_user, client):
    job = _submit(api)
    client.force_login(other_user)

    for fmt in ("srt", "vtt"):
        response = client.get(f"/v1/tts/{job['id']}/captions.{fmt}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_captions_need_a_finished_job_with_timestamps(api, paid):
    queued = _submit(api)
    plain = api.post("/v1/tts", data=json.dumps({"text": "No timing."}), content_type="application/json").json()
    _run(api, plain["id"])

    for job_id in (queued["id"], plain["id"]):
        response = api.get(f"/v1/tts/{job_id}/captions.vtt")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "captions_unavailable"
    assert api.get(f"/v1/tts/{plain['id']}").json()["words"] is None


@pytest.fixture
def dia_voice(settings):
    settings.BUILTIN_VOICES = {
        **settings.BUILTIN_VOICES,
        "dia": {
            **settings.BUILTIN_VOICES["joe"],
            "name": "Dia",
            "engine": "dia",
            "engine_voice": "dia",
            "model_id": "tests/tiny-dia",
            "sample_rate": 44100,
        },
    }


def test_timestamps_refused_up_front_without_alignments_or_recogniser(api, paid, settings, dia_voice):
    settings.TTS_TIMESTAMPS_RECOGNISER = False
    before = SynthesisJob.objects.count()

    response = api.post(
        "/v1/tts",
        data=json.dumps({"text": "[S1] Hello.", "voice_id": "dia", "timestamps": True}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "timestamps_unavailable"
    assert SynthesisJob.objects.count() == before


@pytest.fixture
def tiny_dia(settings, tmp_path_factory, dia_voice):
    model_dir, codec_dir = build_tiny_dia(tmp_path_factory.mktemp("timestamps-dia"))
    settings.SPEECH_ENGINE_OPTIONS = {
        **settings.SPEECH_ENGINE_OPTIONS,
        "dia": {
            "model_id": str(model_dir),
            "codec_id": str(codec_dir),
            "generation": {"max_new_tokens": 48, "chunk_seconds": 4},
            "compile": "off",
            "buckets": {"text": (128,), "prompt": (1,), "new_tokens": (48,)},
        },
    }
    yield
    engines_shutdown(names=["dia"])


def test_an_engine_without_alignments_is_timed_by_the_recogniser(api, paid, tiny_dia):
    # The tiny random Dia says nothing a recogniser can hear: this proves the path (the job gets words as sent, in
    # order, inside its audio), not the timing, which tests/speech/test_timestamps.py checks on real speech.
    job = _submit(api, text="[S1] Hello there, friend. [S2] Fine, thanks.", voice_id="dia")
    job = _run(api, job["id"])
    duration = job["duration_seconds"]

    assert [w["text"] for w in job["words"]] == ["[S1] Hello", "there,", "friend.", "[S2] Fine,", "thanks."]
    for word in job["words"]:
        assert 0 <= word["start"] <= word["end"] <= duration + 0.001
    for before, after in itertools.pairwise(job["words"]):
        assert before["end"] <= after["start"]


def test_cache_serves_timestamps_only_from_audio_that_was_timed(api, paid):
    untimed = api.post("/v1/tts", data=json.dumps({"text": TEXT}), content_type="application/json").json()
    _run(api, untimed["id"])

    # The cached audio has no word times: a timestamps request synthesizes (and becomes the cache entry) ...
    first = _submit(api)
    assert first["cached"] is False
    first = _run(api, first["id"])
    # ... then both kinds of request are answered from it, the timed one with the same words.
    again = _submit(api)
    plain = api.post("/v1/tts", data=json.dumps({"text": TEXT}), content_type="application/json").json()

    assert again["cached"] is True
    assert again["words"] == first["words"]
    assert plain["cached"] is True
    assert plain["words"] is None
    assert SynthesisJob.objects.get(pk=plain["id"]).source_job_id == SynthesisJob.objects.get(pk=first["id"]).pk


def test_a_cached_timed_audio_gives_each_text_its_own_words(api, paid):
    # "₦2,500" and "N2,500" say the same thing: one audio, each job its own words as sent.
    first = _run(api, _submit(api, text="Pay ₦2,500 now.")["id"])
    second = _submit(api, text="Pay N2,500 now.")

    assert second["cached"] is True
    assert [w["text"] for w in first["words"]] == ["Pay", "₦2,500", "now."]
    assert [w["text"] for w in second["words"]] == ["Pay", "N2,500", "now."]
    assert [(w["start"], w["end"]) for w in second["words"]] == [(w["start"], w["end"]) for w in first["words"]]
