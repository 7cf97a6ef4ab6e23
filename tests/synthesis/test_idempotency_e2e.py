"""Idempotency-Key and coalescing on the live stack: Daphne, a Celery worker, Redis, Piper.

Parallel clients with one key get one job and one charge; a replay of /v1/audio/speech or /v1/tts/stream answers
the same job's audio; identical submits at once are synthesized once."""

import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import soundfile as sf

from accounts.services import api_key_create
from billing.models import EntryKind, LedgerEntry
from billing.services import plan_assign
from synthesis.models import IdempotencyKey, JobStatus, SynthesisJob
from tests.e2e.helpers import bearer, metric
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ENGINE_RUNS = 'odiadev_engine_runs_total{engine="piper"}'


@pytest.fixture
def customer():
    user = UserFactory()
    plan_assign(user=user, slug="pro")  # 120 requests a minute, five jobs at a time
    return user, api_key_create(user=user, name="e2e").secret


def _headers(secret: str, key: str | None = None) -> dict[str, str]:
    return {**bearer(secret), **({"Idempotency-Key": key} if key else {})}


def _wait_succeeded(job_id, timeout: float = 60) -> SynthesisJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = SynthesisJob.objects.get(pk=job_id)
        if job.is_final:
            assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not final after {timeout}s")


def _charges(user) -> list[tuple[str, str, int]]:
    return sorted(
        (str(entry.job_id), entry.kind, entry.amount)
        for entry in LedgerEntry.objects.filter(account__user=user, kind__in=[EntryKind.RESERVE, EntryKind.CAPTURE])
    )


def test_twenty_parallel_clients_with_one_key_get_one_job_and_one_charge(stack, customer):
    user, secret = customer
    key = str(uuid.uuid4())
    body = {"text": "Twenty clients, one key, one job, one charge.", "voice_id": "joe", "format": "mp3"}

    def post(_):
        return httpx.post(f"{stack.base_url}/v1/tts", json=body, headers=_headers(secret, key), timeout=60)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(post, range(20)))

    assert [r.status_code for r in responses if r.status_code not in (200, 202)] == [], responses[0].text
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    (job_id,) = ids
    job = _wait_succeeded(job_id)
    assert SynthesisJob.objects.filter(user=user).count() == 1
    assert IdempotencyKey.objects.get(user=user).job_id == job.id
    assert _charges(user) == [(job_id, EntryKind.CAPTURE, 0), (job_id, EntryKind.RESERVE, -len(body["text"]))]
    # and a late retry, once it is done, still answers that job, finished
    late = post(0)
    assert late.json()["id"] == job_id
    assert late.json()["status"] == "succeeded"


def test_a_retried_openai_speech_request_answers_the_same_audio_billed_once(stack, customer):
    user, secret = customer
    key = str(uuid.uuid4())
    body = {"model": "tts-1", "input": "Retry me, and pay once.", "voice": "alloy", "response_format": "wav"}

    def speech():
        return httpx.post(f"{stack.base_url}/v1/audio/speech", json=body, headers=_headers(secret, key), timeout=60)

    first, second = speech(), speech()

    assert first.status_code == second.status_code == 200, first.text
    assert second.headers["X-Job-Id"] == first.headers["X-Job-Id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    samples, rate = sf.read(io.BytesIO(first.content))
    assert len(samples) / rate > 0.5
    job_id = first.headers["X-Job-Id"]
    assert _charges(user) == [(job_id, EntryKind.CAPTURE, 0), (job_id, EntryKind.RESERVE, -len(body["input"]))]
    # the same key with another input is refused
    other = httpx.post(
        f"{stack.base_url}/v1/audio/speech",
        json={**body, "input": "Something else."},
        headers=_headers(secret, key),
        timeout=60,
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_a_retried_stream_request_answers_the_same_job(stack, customer):
    user, secret = customer
    key = str(uuid.uuid4())
    body = {"text": "A stream that is asked for twice. It is made once.", "voice_id": "joe", "format": "pcm"}

    def stream():
        return httpx.post(f"{stack.base_url}/v1/tts/stream", json=body, headers=_headers(secret, key), timeout=60)

    # the retry comes while the first answer is still streaming (or just after)
    with ThreadPoolExecutor(max_workers=2) as pool:
        first_future = pool.submit(stream)
        time.sleep(0.2)
        second = pool.submit(stream).result()
        first = first_future.result()

    assert first.status_code == second.status_code == 200, (first.text, second.text)
    job_id = first.headers["X-Job-Id"]
    assert second.headers["X-Job-Id"] == job_id
    assert second.headers["Idempotent-Replayed"] == "true"
    job = _wait_succeeded(job_id)
    stored = httpx.get(f"{stack.base_url}/v1/tts/{job_id}/audio", headers=bearer(secret), timeout=30).content
    # pcm: each answer is the job's samples, relayed as made or (once it finished) the stored file: the same
    # length but for the stored file's crossfade at the sentence boundary
    for answer in (first, second):
        assert abs(len(answer.content) - len(stored)) < 0.05 * len(stored)
    assert job.audio_bytes == len(stored)
    assert SynthesisJob.objects.filter(user=user).count() == 1
    assert _charges(user) == [(job_id, EntryKind.CAPTURE, 0), (job_id, EntryKind.RESERVE, -len(body["text"]))]


def test_identical_submits_at_once_are_synthesized_once_and_both_get_audio(stack, customer):
    user, secret = customer
    body = {"text": "Submitted twice at once, spoken once.", "voice_id": "joe", "format": "mp3", "wait": True}
    runs_before = metric(stack, ENGINE_RUNS)

    def submit(_):
        return httpx.post(f"{stack.base_url}/v1/tts", json=body, headers=bearer(secret), timeout=60)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(submit, range(2))

    jobs = [first.json(), second.json()]
    assert [job["status"] for job in jobs] == ["succeeded", "succeeded"], jobs
    assert jobs[0]["id"] != jobs[1]["id"]  # without a key: two jobs
    assert metric(stack, ENGINE_RUNS) == runs_before + 1
    rows = {row.cached: row for row in SynthesisJob.objects.filter(user=user)}
    assert set(rows) == {False, True}
    assert rows[True].source_job_id == rows[False].id
    audio = [httpx.get(job["audio_url"], timeout=30).content for job in jobs]
    assert audio[0] == audio[1]
    assert len(audio[0]) > 1000
    # both billed, as a cache hit is billed by default (its characters)
    assert sorted(amount for _, kind, amount in _charges(user) if kind == EntryKind.RESERVE) == [-len(body["text"])] * 2
