"""A GPU worker as production runs it (`--pool threads`, one batch scheduler), on the CPU with a tiny random Dia and
compilation forced to fail: cloned jobs submitted together through the API are decoded in batches and billed
once, a worker killed mid-batch has every job of the batch run again exactly once, audio streams as it decodes,
and /health, /metrics and the ops panel say that it serves eagerly, and why.

The module runs its own Daphne and GPU worker on a queue of its own (DIA_QUEUE), next to the suite's stack, on the
same database and Redis."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django_redis import get_redis_connection

from accounts.services import api_key_create
from billing.models import BillingAccount, LedgerEntry
from billing.services import ledger_sum, plan_assign
from core.heartbeat import worker_is_alive, worker_is_ready, workers_alive
from synthesis.models import FINAL_STATUSES, SynthesisJob
from synthesis.sweeper import synthesis_jobs_sweep
from tests.conftest import Stack
from tests.e2e.helpers import bearer
from tests.factories import PASSWORD, ActiveVoiceFactory, UserFactory
from tests.support.media import SAMPLE_TEXT, encode_sf, pcm16le_decode, speech
from tests.support.processes import database_url, free_port, start, start_web, stop, wait_for, wait_for_web

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Decode steps per generation: long enough (about 7 s of audio) that a batch is still decoding when the test acts.
STEPS = 600
MAX_BATCH = 4
# The streamed PCM pieces and the stored PCM file are 16-bit encodes of the same samples: equal to one step.
PCM16_TOLERANCE = 1 / 32768


@dataclass
class GpuStack(Stack):
    queue: str = ""
    env: dict = field(default_factory=dict)
    procs: list = field(default_factory=list)
    workers: int = 0

    def start_worker(self) -> str:
        """Start a GPU worker process; returns its hostname:pid once its heartbeat says it is ready."""
        self.workers += 1
        before = {_name(w) for w in self.alive()}
        command = [str(Path(sys.executable).parent / "celery"), "-A", "odiadev", "worker", "-Q", self.queue]
        command += ["--pool", "threads", "--concurrency", str(2 * MAX_BATCH), "--prefetch-multiplier", "1"]
        command += [
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{self.queue}-{self.workers}@%h",
        ]
        proc = start(f"gpu-worker-{self.workers}", command, self.env, self.log_dir)
        self.procs.append(proc)
        wait_for(
            lambda: any(_name(w) not in before and worker_is_ready(w) for w in self.alive()),
            120,
            "GPU worker",
            [proc],
            self.logs,
        )
        return next(_name(w) for w in self.alive() if _name(w) not in before)

    def alive(self) -> list[dict]:
        return [w for w in workers_alive() if self.queue in w.get("queues", [])]


def _name(worker: dict) -> str:
    return f"{worker['hostname']}:{worker['pid']}"


@pytest.fixture(scope="module")
def gpu_stack(django_db_setup, tmp_path_factory):
    from django.db import connection

    from speech.engines.dia_testing import build_tiny_dia

    port = free_port()
    queue = f"synth_gpu_test_{port}"
    dia_dir, dac_dir = build_tiny_dia(tmp_path_factory.mktemp("gpu-dia"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")},
        "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "WORKER_HEARTBEAT_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "CLONING_ENGINE": "dia",
        "SPEECH_WARM_ENGINES": "dia",
        "DIA_QUEUE": queue,
        "DIA_MODEL_ID": str(dia_dir),
        "DIA_CODEC_ID": str(dac_dir),
        "DIA_MAX_NEW_TOKENS": str(STEPS),
        "DIA_MAX_BATCH": str(MAX_BATCH),
        # A full batch starts at once; the window only holds a partial one. Wide, so that the tests' four jobs
        # submitted together make one batch even when a loaded machine spreads their submits over a second or more
        # (CI once saw a job of the kill test finish in a batch of its own before the others were claimed).
        "DIA_BATCH_WINDOW_MS": "2000",
        # Compilation asked for and forced to fail: the worker must fall back to eager and say so.
        "DIA_COMPILE": "on",
        "DIA_SIMULATE_COMPILE_FAILURE": "true",
        "DIA_COMPILE_CACHE_DIR": str(tmp_path_factory.mktemp("compile-cache")),
    }
    log_dir = tmp_path_factory.mktemp("gpu-stack-logs")
    stack = GpuStack(
        base_url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}", log_dir=log_dir, queue=queue, env=env
    )
    stack.procs.append(start_web(port, env, log_dir))
    try:
        wait_for_web(stack.base_url, stack.procs, stack.logs)
        stack.start_worker()
        yield stack
    finally:
        for proc in stack.procs:
            stop(proc)
        redis = get_redis_connection("default")
        for worker in stack.alive():  # gone now: their heartbeats must not outlive them into the next tests
            redis.delete(f"{settings.REDIS_KEY_PREFIX}:workers:{_name(worker)}")


class Customer:
    """A Pro customer with an active cloned voice (its sample in storage, as verification leaves it)."""

    def __init__(self, stack: GpuStack) -> None:
        self.stack = stack
        self.user = UserFactory()
        plan_assign(user=self.user, slug="pro")
        self.secret = api_key_create(user=self.user, name="gpu").secret
        sample = f"voices/{uuid.uuid4()}.wav"
        default_storage.save(sample, ContentFile(encode_sf(_sample(), 16000, "WAV", "PCM_16")))
        self.voice = ActiveVoiceFactory(user=self.user, sample=sample, sample_duration_seconds=3.0)

    def submit(self, text: str, **body) -> dict:
        response = httpx.post(
            f"{self.stack.base_url}/v1/tts",
            json={"text": text, "voice_id": str(self.voice.id), "format": "wav", **body},
            headers=bearer(self.secret),
            timeout=60,
        )
        assert response.status_code in (200, 202), response.text
        return response.json()


_samples: list[np.ndarray] = []


def _sample() -> np.ndarray:
    if not _samples:
        _samples.append(speech(SAMPLE_TEXT)[: 3 * 16000])
    return _samples[0]


def _submit_together(jobs: list[tuple[Customer, str]]) -> list[str]:
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return [job["id"] for job in pool.map(lambda job: job[0].submit(job[1]), jobs)]


def _wait_final(job_ids, timeout=180) -> list[SynthesisJob]:
    deadline = time.monotonic() + timeout
    while SynthesisJob.objects.filter(pk__in=job_ids).exclude(status__in=FINAL_STATUSES).exists():
        assert time.monotonic() < deadline, "jobs not final in time"
        time.sleep(0.2)
    return list(SynthesisJob.objects.filter(pk__in=job_ids))


def _assert_billed_once(user) -> None:
    account = BillingAccount.objects.get(user=user)
    assert account.balance == ledger_sum(account=account)
    for job in SynthesisJob.objects.filter(user=user):
        kinds = sorted(LedgerEntry.objects.filter(job=job).values_list("kind", flat=True))
        assert kinds == (["capture", "reserve"] if job.status == "succeeded" else ["release", "reserve"]), kinds


def _serving_rows(body: dict, stack: GpuStack) -> list[dict]:
    ours = {_name(w) for w in stack.alive()}
    return [row for row in body["serving"] if row["worker"] in ours]


# ----------------------------------------------------------------------------------------------------------------
def test_jobs_submitted_together_on_the_gpu_queue_are_decoded_in_batches_and_billed_once(gpu_stack):
    alice, bob = Customer(gpu_stack), Customer(gpu_stack)
    texts = [
        (customer, f"[S1] {name}'s job number {n} in one voice.")
        for n in range(3)
        for customer, name in ((alice, "Alice"), (bob, "Bob"))
    ]

    jobs = _wait_final(_submit_together(texts))

    assert [job.status for job in jobs] == ["succeeded"] * 6, [(j.error_code, j.error_message) for j in jobs]
    assert {job.engine for job in jobs} == {"dia"}
    sizes = sorted(job.batch_size for job in jobs)
    assert sizes[-1] > 1, f"no two jobs shared a batch: {sizes}"
    assert all(1 <= size <= MAX_BATCH for size in sizes)
    assert all(job.batch_wait_seconds is not None for job in jobs)
    deadline = time.monotonic() + 10  # (the heartbeat carries the scheduler's figures once a second)
    while (batching := gpu_stack.alive()[0]["serving"]["dia"]["batching"])["requests"] < 6:
        assert time.monotonic() < deadline, batching
        time.sleep(0.2)
    assert batching["batches"] < batching["requests"], "jobs were served in batches, not one by one"
    log = "".join(p.read_text() for p in gpu_stack.log_dir.glob("gpu-worker-*.log"))
    assert "decodes in batch" in log
    _assert_billed_once(alice.user)
    _assert_billed_once(bob.user)


def test_with_compilation_failing_jobs_run_eagerly_and_health_metrics_and_the_panel_say_so(gpu_stack):
    customer = Customer(gpu_stack)

    job = customer.submit("[S1] Served without the compiler.", wait=True)
    body = httpx.get(f"{gpu_stack.base_url}/health", timeout=10).json()
    metrics = httpx.get(f"{gpu_stack.base_url}/metrics", timeout=10).text

    assert job["status"] == "succeeded"
    (row,) = _serving_rows(body, gpu_stack)
    assert (row["engine"], row["compile_setting"], row["compile_mode"]) == ("dia", "on", "eager")
    assert row["compile_failed"] is True
    assert "forced to fail" in row["fallback_reason"]
    assert row["max_batch"] == MAX_BATCH
    assert body["status"] == "degraded"
    assert any("decodes eagerly" in reason and row["worker"] in reason for reason in body["reasons"])
    labels = f'engine="dia",worker="{row["worker"]}"'
    assert f"odiadev_engine_compiled{{{labels}}} 0.0" in metrics
    assert f"odiadev_engine_compile_failed{{{labels}}} 1.0" in metrics
    assert f"odiadev_batch_size_mean{{{labels}}}" in metrics
    assert f'odiadev_batch_queue_wait_seconds{{engine="dia",quantile="0.95",worker="{row["worker"]}"}}' in metrics
    staff = UserFactory(is_staff=True)
    panel = Client()
    panel.login(email=staff.email, password=PASSWORD)
    page = panel.get("/ops/").content.decode()
    assert 'data-testid="gpu-serving"' in page
    assert "forced to fail" in page


def test_a_cloned_job_streams_as_it_decodes_and_the_pieces_are_its_stored_file(gpu_stack):
    customer = Customer(gpu_stack)
    started, arrivals, chunks = time.monotonic(), [], []

    with httpx.stream(
        "POST",
        f"{gpu_stack.base_url}/v1/tts/stream",
        json={
            "text": "[S1] One generation, streamed as it decodes.",
            "voice_id": str(customer.voice.id),
            "format": "pcm",
        },
        headers=bearer(customer.secret),
        timeout=120,
    ) as response:
        for chunk in response.iter_bytes():
            arrivals.append((time.monotonic() - started, time.time()))
            chunks.append(chunk)

    assert response.status_code == 200
    job = SynthesisJob.objects.get(pk=response.headers["x-job-id"])
    assert job.status == "succeeded"
    assert len(arrivals) >= 2, "the audio came in pieces"
    assert arrivals[0][1] < job.finished_at.timestamp(), "the first piece left before the generation ended"
    streamed = pcm16le_decode(b"".join(chunks))
    stored = pcm16le_decode(default_storage.open(job.audio.name).read())
    assert streamed.size == stored.size > 0
    assert np.abs(streamed - stored).max() <= PCM16_TOLERANCE


def test_a_worker_killed_mid_batch_has_every_job_of_the_batch_run_again_exactly_once(gpu_stack, settings):
    settings.SPEECH_ENGINE_QUEUES = {**settings.SPEECH_ENGINE_QUEUES, "dia": gpu_stack.queue}  # (the sweeper's)
    alice, bob = Customer(gpu_stack), Customer(gpu_stack)
    job_ids = _submit_together([(c, f"[S1] Interrupted job {n}.") for n in range(2) for c in (alice, bob)])

    # Mid-batch: every job claimed by the worker, a batch decoding (its first pieces out), none finished.
    deadline = time.monotonic() + 60
    while True:
        jobs = list(SynthesisJob.objects.filter(pk__in=job_ids))
        if all(j.status == "running" for j in jobs) and any(j.batch_size for j in jobs):
            break
        assert not any(j.status in FINAL_STATUSES for j in jobs), "a job finished before the worker was killed"
        assert time.monotonic() < deadline, [(j.status, j.batch_size) for j in jobs]
        time.sleep(0.05)
    (killed,) = {job.worker for job in jobs}
    os.kill(int(killed.rsplit(":", 1)[1]), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while worker_is_alive(killed):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    replacement = gpu_stack.start_worker()

    assert synthesis_jobs_sweep()["resent"] == 4
    jobs = _wait_final(job_ids)

    assert [(job.status, job.attempts) for job in jobs] == [("succeeded", 2)] * 4
    assert {job.worker for job in jobs} == {replacement}
    assert all(job.batch_size for job in jobs)
    _assert_billed_once(alice.user)
    _assert_billed_once(bob.user)
    assert synthesis_jobs_sweep() == {"resent": 0, "failed": 0}


def test_the_gpu_worker_warmed_up_before_it_said_it_was_ready(gpu_stack):
    (worker,) = gpu_stack.alive()
    log = "".join(p.read_text() for p in sorted(gpu_stack.log_dir.glob("gpu-worker-*.log")))

    assert worker["ready"] is True
    assert "warming" not in worker
    dia = worker["serving"]["dia"]
    assert dia["warm_up_seconds"] is not None
    assert dia["batching"]["max_batch"] == MAX_BATCH
    assert "accounts_waiting" in dia["batching"]
    assert "pending_by_account" not in json.dumps(worker), "no account ids in the public heartbeat"
    assert "DIA warm-up: eager" in log
    assert "batch scheduler started" in log
