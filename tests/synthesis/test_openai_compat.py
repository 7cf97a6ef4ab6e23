"""POST /v1/audio/speech with the official `openai` package pointed at our server, as customers would call it."""

from __future__ import annotations

import io
import uuid

import openai
import pytest
import soundfile as sf

from accounts.services import api_key_create
from billing.services import plan_assign
from synthesis.openai_compat import openai_request_translate, openai_voice_resolve
from tests.factories import UserFactory
from tests.support.media import pcm16le_decode

TEXT = "Hello from the official OpenAI client."


@pytest.fixture
def client(stack, transactional_db):
    user = UserFactory()
    plan_assign(user=user, slug="pro")  # every format
    secret = api_key_create(user=user, name="openai").secret
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
