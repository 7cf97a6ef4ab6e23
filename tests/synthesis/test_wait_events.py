"""`"wait": true` and /v1/audio/speech wait for the job as an event, in async code (core.deferred, core.notify).

In this process, through Django's ASGI handler (AsyncClient): the job's queue has no worker here, so the test decides
when and how the job becomes final, and what the waiting request sees."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import AsyncClient
from django_redis import get_redis_connection

from accounts.services import api_key_create
from billing.services import plan_assign
from synthesis.models import JobStatus, SynthesisJob
from synthesis.streaming import stream_finish, stream_publish
from synthesis.transitions import synthesis_job_fail
from tests.factories import UserFactory
from tests.support.sockets import own_redis_clients

BODY = {"text": "Wake me when it is done.", "voice_id": "joe", "format": "mp3", "wait": True}


@pytest.fixture
def secret(transactional_db, settings):
    settings.SPEECH_ENGINE_QUEUES = {**settings.SPEECH_ENGINE_QUEUES, "piper": "test-wait-nobody-listens"}
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    return api_key_create(user=user, name="wait").secret


def _later(seconds: float, action) -> ThreadPoolExecutor:
    """Run `action(job)` on the only job, `seconds` after it exists, in another thread (as a worker would)."""

    def run():
        try:
            deadline = time.monotonic() + 20
            while not SynthesisJob.objects.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(seconds)
            action(SynthesisJob.objects.get())
        finally:
            connection.close()

    pool = ThreadPoolExecutor(1)
    pool.submit(run)
    return pool


def _fail(job):
    synthesis_job_fail(job_id=job.id, code="engine_error", message="The engine gave up.")


def _fail_silently(job):
    """Final without an event, as when Redis was away the moment the worker recorded it."""
    SynthesisJob.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, error_code="engine_error", error_message="The engine gave up."
    )


async def _post(secret: str, path: str, body: dict):
    started = time.monotonic()
    response = await AsyncClient().post(
        path, data=json.dumps(body), content_type="application/json", headers={"Authorization": f"Bearer {secret}"}
    )
    return response, time.monotonic() - started


def test_a_waiting_request_wakes_on_the_jobs_event_not_on_a_poll(secret, settings):
    settings.TTS_WAIT_CHECK_SECONDS = 60  # only the event can wake it before the timeout
    settings.TTS_WAIT_TIMEOUT = 20
    pool = _later(1.0, _fail)

    response, took = asyncio.run(_post(secret, "/v1/tts", BODY))
    pool.shutdown()

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"]["code"] == "engine_error"
    assert took < 10
    # the answer went through the whole middleware chain: its headers are on it
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_lost_event_is_covered_by_reading_the_job(secret, settings):
    settings.TTS_WAIT_CHECK_SECONDS = 0.5
    settings.TTS_WAIT_TIMEOUT = 20
    pool = _later(0.5, _fail_silently)

    response, took = asyncio.run(_post(secret, "/v1/tts", BODY))
    pool.shutdown()

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert took < 10


def test_a_job_still_running_at_the_timeout_answers_202_with_the_job(secret, settings):
    settings.TTS_WAIT_TIMEOUT = 1.0

    response, took = asyncio.run(_post(secret, "/v1/tts", BODY))

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert 0.9 < took < 10


def test_openai_speech_waits_for_the_event_and_answers_our_error_body(secret, settings):
    settings.TTS_WAIT_CHECK_SECONDS = 60
    settings.TTS_WAIT_TIMEOUT = 20
    pool = _later(1.0, _fail)

    response, took = asyncio.run(_post(secret, "/v1/audio/speech", {"input": "Hello there.", "voice": "alloy"}))
    pool.shutdown()

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "synthesis_failed"
    assert took < 10


def test_openai_speech_still_running_at_the_timeout_is_504_with_the_job(secret, settings):
    settings.TTS_WAIT_TIMEOUT = 1.0

    response, _ = asyncio.run(_post(secret, "/v1/audio/speech", {"input": "Hello there.", "voice": "alloy"}))

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "synthesis_timeout"
    assert response.json()["error"]["detail"]["job_id"] == str(SynthesisJob.objects.get().id)


def _subscribed_connections() -> int:
    """This process's subscribed connections (a live server's run alongside in the suite)."""
    clients = own_redis_clients(get_redis_connection("default").client_list())
    return sum(1 for client in clients if int(client["sub"]) or int(client["psub"]))


def test_more_waiting_requests_than_the_database_pool_holds_are_all_answered(secret, settings):
    """Twenty requests wait at once (four accounts, five jobs each: the Pro plan's limit), more than a process's
    database pool holds (10 by default): each gave its connection back before waiting, so none starves the others.
    And they listen on one Redis connection (the process's listener), not one each."""
    settings.TTS_WAIT_CHECK_SECONDS = 60
    settings.TTS_WAIT_TIMEOUT = 30
    secrets = [secret]
    for n in range(3):
        user = UserFactory()
        plan_assign(user=user, slug="pro")
        secrets.append(api_key_create(user=user, name=f"wait-{n}").secret)

    async def scenario():
        posts = [
            asyncio.create_task(_post(key, "/v1/tts", {**BODY, "text": f"Waiter number {n}."}))
            for n, key in enumerate(secrets * 5)
        ]
        while await sync_to_async(SynthesisJob.objects.count)() < 20:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        listening.append(await sync_to_async(_subscribed_connections)())
        for job_id in await sync_to_async(list)(SynthesisJob.objects.values_list("pk", flat=True)):
            await sync_to_async(synthesis_job_fail)(job_id=job_id, code="engine_error", message="Gave up.")
        return await asyncio.gather(*posts)

    listening = [_subscribed_connections()]
    results = asyncio.run(scenario())

    assert [response.status_code for response, _ in results] == [200] * 20
    assert {response.json()["status"] for response, _ in results} == {"failed"}
    assert listening[1] - listening[0] == 1, listening


# ---------------------------------------------------------------------------------------------------------------
# /v1/audio/speech streamed (mp3, opus, pcm): the answer starts with the first audio; a failure after that ends it.
# ---------------------------------------------------------------------------------------------------------------
def _first_piece_then_fail(job):
    """As a worker whose engine gives up after the first sentence."""
    stream_publish(job_id=job.id, data=b"\x01\x00" * 500)
    time.sleep(0.5)
    synthesis_job_fail(job_id=job.id, code="engine_error", message="The engine gave up.")
    stream_finish(job_id=job.id, status=JobStatus.FAILED)


async def _post_streamed(secret: str, body: dict):
    response = await AsyncClient().post(
        "/v1/audio/speech",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    content = b"".join([piece async for piece in response.streaming_content]) if response.streaming else b""
    return response, content


def test_openai_speech_failing_mid_stream_ends_the_audio(secret, settings):
    settings.TTS_WAIT_TIMEOUT = 20
    pool = _later(0.5, _first_piece_then_fail)

    response, content = asyncio.run(_post_streamed(secret, {"input": "Hello there.", "response_format": "pcm"}))
    pool.shutdown()

    assert response.status_code == 200  # the audio had begun: the status was sent with it
    assert response.streaming
    assert content == b"\x01\x00" * 500  # what was made, then the end
    assert response["X-Job-Id"] == str(SynthesisJob.objects.get().id)


def test_openai_sse_failing_mid_stream_ends_with_an_error_event(secret, settings):
    settings.TTS_WAIT_TIMEOUT = 20
    pool = _later(0.5, _first_piece_then_fail)

    body = {"input": "Hello there.", "response_format": "pcm", "stream_format": "sse"}
    response, content = asyncio.run(_post_streamed(secret, body))
    pool.shutdown()

    events = [json.loads(line.removeprefix(b"data: ")) for line in content.split(b"\n\n") if line]
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert [event["type"] for event in events] == ["speech.audio.delta", "error"]
    assert base64.b64decode(events[0]["audio"]) == b"\x01\x00" * 500
    assert events[1]["error"]["code"] == "synthesis_failed"
    assert events[1]["error"]["detail"] == {"job_id": str(SynthesisJob.objects.get().id), "status": "failed"}


def test_openai_speech_streams_nothing_before_its_first_audio(secret, settings):
    """A streamable format's answer waits for the first piece: the status line leaves with audio, not before."""
    settings.TTS_WAIT_TIMEOUT = 20

    def first_piece_later_then_succeed(job):
        stream_publish(job_id=job.id, data=b"\x02\x00" * 10)
        stream_finish(job_id=job.id, status=JobStatus.SUCCEEDED)

    pool = _later(1.5, first_piece_later_then_succeed)

    started = time.monotonic()
    response, content = asyncio.run(_post_streamed(secret, {"input": "Hello there.", "response_format": "mp3"}))
    took = time.monotonic() - started
    pool.shutdown()

    assert response.status_code == 200
    assert content == b"\x02\x00" * 10
    assert 1.4 < took < 10
