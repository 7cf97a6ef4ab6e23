"""The sync and async clients against the live stack: synthesis, streaming, the job socket, errors. Few and short
texts: each synthesis is real work for the one worker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from odiadev_sdk import APIError, AsyncClient, Client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = "The software kit speaks. It streams a second sentence too."
SOCKET_TEXT = "The job socket carries frames. A second sentence follows."  # not TEXT: a cache hit has no stream


def _pcm_seconds(pcm: bytes, sample_rate: int) -> float:
    return len(pcm) / 2 / sample_rate


def test_sync_client_synthesizes_lists_and_reports_usage(stack, customer_key, monkeypatch):
    monkeypatch.setenv("ODIADEV_API_KEY", customer_key)
    monkeypatch.setenv("ODIADEV_BASE_URL", stack.base_url)
    with Client() as client:  # configured from the environment only
        voices = client.voices.list()["voices"]
        job, audio = client.tts.synthesize("Hello from the Python client.", voice_id="joe", format="wav")
        listed = client.tts.list(page_size=5)["results"]
        usage = client.usage.retrieve()

    assert "joe" in {voice["id"] for voice in voices}
    assert job["status"] == "succeeded"
    assert audio[:4] == b"RIFF"
    assert len(audio) == job["audio_bytes"]
    assert [entry["id"] for entry in listed] == [job["id"]]
    assert usage["characters"]["used"] == job["characters"]


def test_sync_client_raises_the_api_error_body_with_its_status(stack, customer_key):
    with Client(customer_key, base_url=stack.base_url) as client:
        with pytest.raises(APIError) as missing:
            client.tts.retrieve(str(uuid.uuid4()))
        with pytest.raises(APIError) as invalid:
            client.tts.create("Hi.", format="aiff")
    with Client("odiadev_not_a_key", base_url=stack.base_url) as stranger, pytest.raises(APIError) as refused:
        stranger.voices.list()

    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert invalid.value.status == 400
    assert invalid.value.code == "invalid_format"  # our error body was read, not a generic one
    assert invalid.value.message
    assert (refused.value.status, refused.value.code) == (401, "authentication_failed")


def test_sync_stream_and_job_socket_deliver_the_audio_as_it_is_made(stack, customer_key):
    with Client(customer_key, base_url=stack.base_url) as client:
        streamed = list(client.tts.stream(TEXT, voice_id="joe", format="pcm", sample_rate=16000))
        with client.events() as socket:
            job = client.tts.create(SOCKET_TEXT, voice_id="joe", format="pcm", sample_rate=16000, stream=True)
            frames = list(socket.audio(job["id"]))
            final = socket.wait_for_job(job["id"], timeout=60)
            socket.ping()
        stored = client.tts.audio(job["id"])

    assert len(streamed) >= 2  # sent in pieces, not as one body
    assert abs(_pcm_seconds(b"".join(streamed), 16000) - _pcm_seconds(stored, 16000)) < 0.5
    assert socket.hello["type"] == "hello"
    assert final["status"] == "succeeded"
    assert len(frames) >= 2
    assert abs(_pcm_seconds(b"".join(frames), 16000) - final["duration_seconds"]) < 0.5


def test_job_socket_refuses_a_bad_key_with_the_api_error(stack):
    with Client("odiadev_not_a_key", base_url=stack.base_url) as client, pytest.raises(APIError) as refused:
        client.events()

    assert (refused.value.status, refused.value.code) == (401, "authentication_failed")


def test_async_client_synthesizes_streams_and_subscribes(stack, customer_key):
    async def main():
        async with AsyncClient(customer_key, base_url=stack.base_url) as client:
            voices = (await client.voices.list())["voices"]
            job, audio = await client.tts.synthesize("Hello from asyncio.", voice_id="joe", format="mp3")
            speech = [chunk async for chunk in client.audio.speech_stream("Open AI shape.", voice="joe")]
            async with client.events() as socket:
                streamed = await client.tts.create(
                    "Asyncio listens to the socket. Then it ends.",
                    voice_id="joe",
                    format="pcm",
                    sample_rate=16000,
                    stream=True,
                )
                frames = [frame async for frame in socket.audio(streamed["id"])]
                final = await socket.wait_for_job(streamed["id"], timeout=60)
            try:
                await client.tts.cancel(str(uuid.uuid4()))
            except APIError as error:
                missing = error
            return voices, job, audio, speech, frames, final, missing

    voices, job, audio, speech, frames, final, missing = asyncio.run(main())

    assert "joe" in {voice["id"] for voice in voices}
    assert job["format"] == "mp3"
    assert audio[:3] == b"ID3" or audio[0] == 0xFF
    assert b"".join(speech)
    assert final["status"] == "succeeded"
    assert abs(_pcm_seconds(b"".join(frames), 16000) - final["duration_seconds"]) < 0.5
    assert (missing.status, missing.code) == (404, "not_found")
