"""POST /v1/audio/speech with the official `openai` package pointed at our server, as customers would call it:
the whole answer, the streamed answer (audio from the first sentence on), OpenAI's server-sent events, and errors
that name OpenAI's fields."""

from __future__ import annotations

import base64
import io
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Literal

import httpx
import numpy as np
import openai
import pytest
import soundfile as sf
from pydantic import BaseModel, ConfigDict

from accounts.services import api_key_create
from billing.services import plan_assign
from synthesis.openai_compat import openai_request_translate, openai_voice_resolve
from tests.e2e.helpers import bearer
from tests.factories import UserFactory
from tests.support.media import pcm16le_decode

TEXT = "Hello from the official OpenAI client."
# Several sentences: Piper makes one piece per sentence, so the first leaves long before the last is made.
SENTENCES = (
    "The first sentence is short. The second one takes a little longer to say out loud. "
    "A third sentence follows, with a few more words in it than the others. "
    "The fourth talks about the weather, which was grey and cold all week. "
    "A fifth one mentions the market, where the prices rose again on Monday. "
    "And the sixth closes the paragraph, so the stream has many pieces to send."
)


@pytest.fixture
def secret(stack, transactional_db):
    user = UserFactory()
    plan_assign(user=user, slug="pro")  # every format
    return api_key_create(user=user, name="openai").secret


@pytest.fixture
def client(stack, secret):
    return openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=secret, timeout=120, max_retries=0)


@pytest.mark.e2e
def test_speech_create_returns_audio_the_client_can_play(client):
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="wav")

    samples, rate = sf.read(io.BytesIO(audio.content))
    assert rate == 22050  # the default voice (Piper joe), at its own rate
    assert 1.0 < len(samples) / rate < 6.0


@pytest.mark.e2e
def test_the_streaming_response_helper_writes_an_mp3(client, tmp_path):
    path = tmp_path / "speech.mp3"

    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="nova", input=TEXT, response_format="mp3"
    ) as response:
        response.stream_to_file(path)

    samples, rate = sf.read(path)
    assert rate == 22050
    assert len(samples) / rate > 1.0


@pytest.mark.e2e
def test_pcm_is_openais_24_khz_16_bit_and_opus_is_ogg(client):
    pcm = client.audio.speech.create(model="tts-1", voice="echo", input=TEXT, response_format="pcm").content
    opus = client.audio.speech.create(model="tts-1", voice="echo", input=TEXT, response_format="opus").content

    assert len(pcm) % 2 == 0
    assert 1.0 < len(pcm16le_decode(pcm)) / 24000 < 6.0
    assert opus[:4] == b"OggS"


# ---------------------------------------------------------------------------------------------------------------
# Streaming: the audio from the first sentence on
# ---------------------------------------------------------------------------------------------------------------
def _job(stack, secret: str, job_id: str) -> dict:
    response = httpx.get(f"{stack.base_url}/v1/tts/{job_id}", headers=bearer(secret), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@pytest.mark.e2e
def test_the_streaming_helper_gets_the_first_audio_well_before_the_job_ends(client, stack, secret):
    arrivals, chunks = [], []

    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="alloy", input=SENTENCES, response_format="pcm"
    ) as response:
        for chunk in response.iter_bytes():
            arrivals.append(time.time())
            chunks.append(chunk)
        job_id = response.headers["x-job-id"]
        content_type = response.headers["content-type"]

    job = _job(stack, secret, job_id)
    assert job["status"] == "succeeded"
    assert content_type == "application/octet-stream"
    assert len(chunks) >= 2, "the audio came in pieces"
    started, finished = _at(job["started_at"]), _at(job["finished_at"])
    # "well before": in the first half of the job's own run (six sentences; the first is a sixth of the work)
    assert arrivals[0] < started + (finished - started) / 2, (arrivals[0] - started, finished - started)
    audio = b"".join(chunks)
    assert abs(len(pcm16le_decode(audio)) / 24000 - job["duration_seconds"]) < 0.5, "the stream is the job's speech"


@pytest.mark.e2e
@pytest.mark.parametrize(("response_format", "magic"), [("mp3", b""), ("opus", b"OggS")])
def test_mp3_and_opus_stream_and_decode(client, stack, secret, response_format, magic):
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input=SENTENCES, response_format=response_format
    ) as response:
        pieces = list(response.iter_bytes())
        job_id = response.headers["x-job-id"]

    audio = b"".join(pieces)
    samples, rate = sf.read(io.BytesIO(audio))
    assert audio.startswith(magic)
    assert abs(len(samples) / rate - _job(stack, secret, job_id)["duration_seconds"]) < 0.5


class SpeechAudioDelta(BaseModel):
    """OpenAI's `speech.audio.delta` event, as its API reference defines it."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["speech.audio.delta"]
    audio: str


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    input_tokens: int
    output_tokens: int
    total_tokens: int


class SpeechAudioDone(BaseModel):
    """OpenAI's `speech.audio.done` event."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["speech.audio.done"]
    usage: Usage


def _sse_events(client, **params) -> tuple[list[dict], list[float], str, str]:
    """The events of a `stream_format="sse"` request, parsed by the package's own SSE stream class, with the time
    each arrived, the content type and the job id."""
    arrivals, events = [], []
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", stream_format="sse", **params
    ) as r:
        for event in openai.Stream(cast_to=object, response=r.http_response, client=client):
            arrivals.append(time.time())
            events.append(event)
        return events, arrivals, r.headers["content-type"], r.headers["x-job-id"]


@pytest.mark.e2e
def test_sse_events_have_openais_shapes_and_carry_the_same_audio(client, stack, secret, settings):
    text = SENTENCES[: SENTENCES.index(" A fifth")]  # one segment (under TTS_SEGMENT_CHARS): no crossfades
    events, arrivals, content_type, job_id = _sse_events(client, voice="echo", input=text, response_format="pcm")
    whole = client.audio.speech.create(model="tts-1", voice="echo", input=text, response_format="pcm").content

    assert content_type.startswith("text/event-stream")
    *deltas, done = events
    assert len(deltas) >= 2, "a delta per piece of audio"
    deltas = [SpeechAudioDelta.model_validate(event) for event in deltas]
    done = SpeechAudioDone.model_validate(done)
    assert done.usage.input_tokens == len(text)
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens
    job = _job(stack, secret, job_id)
    assert arrivals[0] < _at(job["finished_at"]), "the first delta left before the job ended"
    pieces = [pcm16le_decode(base64.b64decode(delta.audio)) for delta in deltas]
    stored = pcm16le_decode(whole)
    # The same speech. Each delta is one sentence as the engine made it; the stored file joins the sentences with
    # a TTS_CROSSFADE_MS crossfade at each seam (the stream cannot: a piece leaves before the next exists), so it
    # is shorter by one crossfade per seam, and each piece sits at its place in it, seams aside (within a sample
    # or two per seam: the crossfade is cut at the voice's 22.05 kHz, before the resampling to 24 kHz). A seam at a
    # whole 22.05 kHz sample falls between two 24 kHz samples, so each piece is matched at fractional lags too.
    fade = 24000 * settings.TTS_CROSSFADE_MS / 1000
    assert abs(sum(map(len, pieces)) - (len(pieces) - 1) * fade - len(stored)) <= 4 * len(pieces)
    at = 0.0
    for piece in pieces:
        inner = piece[round(fade) : len(piece) - round(fade)]
        assert _best_correlation(inner, stored, start=round(at + fade), reach=len(pieces)) > 0.999
        at += len(piece) - fade


def _best_correlation(part: np.ndarray, whole: np.ndarray, *, start: int, reach: int) -> float:
    """The highest correlation of `part` with `whole` at `start`, give or take `reach` samples in steps of 1/8."""
    low = max(start - reach, 0)
    window = whole[low : start + reach + len(part)].astype(np.float64)
    spectrum, frequencies = np.fft.rfft(window), np.fft.rfftfreq(len(window))
    best = -1.0
    for fraction in np.arange(-0.5, 0.5, 0.125):
        shifted = np.fft.irfft(spectrum * np.exp(2j * np.pi * frequencies * fraction), n=len(window))
        for lag in range(len(window) - len(part) + 1):
            best = max(best, np.corrcoef(part, shifted[lag : lag + len(part)])[0, 1])
    return best


@pytest.mark.e2e
def test_sse_of_a_format_that_cannot_stream_comes_once_the_job_is_done(client):
    events, _, _, _ = _sse_events(client, voice="alloy", input=TEXT, response_format="wav")

    *deltas, done = events
    SpeechAudioDone.model_validate(done)
    audio = b"".join(base64.b64decode(SpeechAudioDelta.model_validate(delta).audio) for delta in deltas)
    samples, rate = sf.read(io.BytesIO(audio))
    assert 1.0 < len(samples) / rate < 6.0


@pytest.mark.e2e
def test_a_retried_streaming_request_answers_the_same_job_from_the_start(stack, secret):
    key = str(uuid.uuid4())
    body = {"model": "tts-1", "input": SENTENCES, "voice": "alloy", "response_format": "mp3"}

    def speech():
        headers = {**bearer(secret), "Idempotency-Key": key}
        return httpx.post(f"{stack.base_url}/v1/audio/speech", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first_future = pool.submit(speech)
        time.sleep(0.3)  # the retry comes while the first answer streams (or just after)
        second = pool.submit(speech).result()
    first = first_future.result()

    assert first.status_code == second.status_code == 200, (first.text[:200], second.text[:200])
    assert second.headers["X-Job-Id"] == first.headers["X-Job-Id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    for answer in (first, second):
        samples, rate = sf.read(io.BytesIO(answer.content))
        assert abs(len(samples) / rate - _job(stack, secret, first.headers["X-Job-Id"])["duration_seconds"]) < 0.5


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_errors_name_openais_fields(client):
    def refused(**params) -> openai.APIStatusError:
        with pytest.raises(openai.APIStatusError) as caught:
            client.audio.speech.create(**{"model": "tts-1", "voice": "alloy", "input": TEXT, **params})
        return caught.value

    empty = refused(input="   ")
    long = refused(input="Words. " * 2000)
    voice = refused(voice={"id": str(uuid.uuid4())})
    fmt = refused(response_format="aac")
    speed = refused(speed=3.0)
    stream = refused(stream_format="websocket")

    assert (empty.status_code, empty.code, empty.param) == (400, "text_empty", "input")
    assert "`input`" in empty.message
    assert "`text`" not in empty.message
    assert (long.status_code, long.code, long.param) == (400, "text_too_long", "input")
    assert re.search(r"`input` is \d+ characters", long.message), long.message
    assert (voice.status_code, voice.code, voice.param) == (404, "voice_not_found", "voice")
    assert set(voice.body["detail"]) == {"voice"}
    assert (fmt.code, fmt.param) == ("invalid_format", "response_format")
    assert (speed.code, speed.param) == ("invalid_speed", "speed")
    assert "speed" in speed.body["detail"]
    assert (stream.code, stream.param) == ("invalid_stream_format", "stream_format")


@pytest.mark.e2e
def test_errors_reach_the_client_as_openai_exceptions(client, stack):
    with pytest.raises(openai.BadRequestError) as unsupported:
        client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="aac")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key="odk_bad_key", max_retries=0).audio.speech.create(
            model="tts-1", voice="alloy", input=TEXT
        )

    assert unsupported.value.code == "invalid_format"  # our stable codes land in the OpenAI error's `code`


@pytest.mark.e2e
def test_the_plan_still_decides_the_formats(stack, transactional_db):
    free = api_key_create(user=UserFactory(), name="free").secret
    client = openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=free, max_retries=0)

    with pytest.raises(openai.APIStatusError) as refused:
        client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="flac")

    assert refused.value.status_code == 402
    assert refused.value.code == "plan_forbids_format"
    # named in OpenAI's formats: opus, not our ogg
    with pytest.raises(openai.APIStatusError) as opus:
        client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="opus")
    assert opus.value.param == "response_format"
    assert opus.value.body["detail"] == {"response_format": "opus", "allowed": ["wav", "mp3"]}
    assert "'opus'" in opus.value.message
    assert "ogg" not in opus.value.message


def test_voices_map_to_ours(settings):
    settings.OPENAI_VOICE_MAP = {"nova": "joe"}
    settings.OPENAI_DEFAULT_VOICE = "joe"
    cloned = str(uuid.uuid4())

    assert openai_voice_resolve("joe", {"joe"}) == "joe"
    assert openai_voice_resolve({"id": cloned}, {"joe"}) == cloned
    assert openai_voice_resolve("NOVA", {"joe"}) == "joe"
    assert openai_voice_resolve("shimmer", {"joe"}) == "joe"
    translated = openai_request_translate(
        {"input": "Hi", "voice": "alloy", "response_format": "opus"}, known_voice_ids={"joe"}
    )
    assert (translated["output_format"], translated["sample_rate"], translated["speed"]) == ("ogg", None, 1.0)
