"""The worker's batch path in one process: jobs whose tasks run in threads (as on a GPU worker) decode together
through the process's batch scheduler, each job keeps its own seed's audio, pieces stream as they decode, one
account cannot take a batch from another, and an out-of-memory batch counts once toward the OOM breaker."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from django.core.files.storage import default_storage
from django.db import connection
from django_redis import get_redis_connection

from controls.breaker import oom_count
from controls.switches import switch_is_on
from speech.engines.base import SynthesisRequest
from speech.engines.dia_testing import build_tiny_dia
from synthesis.models import SynthesisJob
from synthesis.runner import synthesis_job_execute
from synthesis.serving import engine_get, engines_shutdown, scheduler_get
from synthesis.streaming import _key as stream_key
from tests.factories import QueuedJobFactory, UserFactory
from tests.support import engines as test_engines
from tests.support.media import pcm16le_decode

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = 48
# A WAV or PCM file holds 16-bit samples: the stored audio matches the engine's float audio to one step of 1/32768
# (rounding), plus one more step of slack.
PCM16_TOLERANCE = 2 / 32768


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # Two shared cores: several OpenMP threads fighting other processes make a tiny model far slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def dia_options(tmp_path_factory):
    model_dir, codec_dir = build_tiny_dia(tmp_path_factory.mktemp("batching-dia"))
    return {
        "model_id": str(model_dir),
        "codec_id": str(codec_dir),
        "generation": {"max_new_tokens": STEPS, "chunk_seconds": 4},
        "compile": "off",
        "max_batch": 4,
        "buckets": {"text": (128,), "prompt": (1,), "new_tokens": (STEPS,)},
        "stream": {"first_frames": 4, "frames": 8},
    }


@pytest.fixture
def serving(settings, dia_options):
    """This process as a GPU worker: Dia (tiny) and two test engines, each batched by its own scheduler."""
    settings.SPEECH_ENGINES = {
        **settings.SPEECH_ENGINES,
        "gated_batch": "tests.support.engines.GatedBatchEngine",
        "dia_oom": "tests.support.engines.OutOfMemoryDiaEngine",
    }
    settings.SPEECH_ENGINE_OPTIONS = {
        **settings.SPEECH_ENGINE_OPTIONS,
        "dia": dia_options,
        "dia_oom": dia_options,
    }
    # A long window: the jobs of a test, started together, land in one batch.
    window = {"window_ms": 2000, "account_share": 0.5}
    settings.SPEECH_BATCHING = {"dia": window, "dia_oom": window, "gated_batch": {"window_ms": 1}}
    yield settings
    engines_shutdown(names=["dia", "dia_oom", "gated_batch"])


def run_jobs(jobs) -> dict:
    """Run each job's task body in its own thread at once, as a threads-pool worker does."""
    outcomes: dict = {}

    def run(job):
        try:
            outcomes[job.id] = synthesis_job_execute(job_id=job.id)
        finally:
            connection.close()  # as Celery's Django fix-up does after each task: the pool gets it back

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes


def dia_job(user=None, **fields):
    fields = {
        "engine": "dia",
        "voice_id": "dia",
        "engine_voice": "dia",
        "model_id": "tests/tiny-dia",
        "model_revision": "1",
        "sample_rate": 44100,
        **fields,
    }
    return QueuedJobFactory(user=user or UserFactory(), **fields)


def stored_audio(job) -> np.ndarray:
    data = default_storage.open(job.audio.name).read()
    if job.output_format == "pcm":
        return pcm16le_decode(data)
    return sf.read(io.BytesIO(data), dtype="float32")[0]


def test_concurrent_jobs_decode_in_one_batch_and_each_keeps_its_seeds_audio(serving):
    texts = ["[S1] Hello there.", "[S1] A second voice.", "[S2] Third one, please.", "[S1] And a fourth."]
    users = [UserFactory(), UserFactory()]
    jobs = [dia_job(users[n % 2], text=text, seed=100 + n) for n, text in enumerate(texts)]

    outcomes = run_jobs(jobs)

    assert list(outcomes.values()) == ["succeeded"] * 4
    engine = engine_get("dia")
    for job in jobs:
        job.refresh_from_db()
        assert job.batch_size == 4, "the four jobs decoded together"
        assert job.batch_wait_seconds >= 0
        # The seed guarantee under batching: a job's audio is what its request makes alone with the same seed.
        alone = engine.synthesize_batch([SynthesisRequest(text=job.text, voice="dia", seed=job.seed)])[0]
        audio = stored_audio(job)
        assert audio.size == alone.audio().size > 0
        assert np.abs(audio - alone.audio()).max() <= PCM16_TOLERANCE
    assert len({stored_audio(job).tobytes() for job in jobs}) == 4, "no job got another's audio"
    stats = scheduler_get("dia").stats()
    assert (stats["batches"], stats["requests"], stats["batch_size_mean"]) == (1, 4, 4.0)


def test_a_jobs_pieces_stream_as_they_decode_and_join_into_its_stored_file(serving):
    serving.SPEECH_BATCHING = {**serving.SPEECH_BATCHING, "dia": {"window_ms": 1}}
    # One generation: the stored file joins a long text's generations with a short crossfade, the stream does not.
    job = dia_job(text="[S1] One generation, streamed.", seed=7)
    SynthesisJob.objects.filter(pk=job.pk).update(streamed=True, output_format="pcm")

    assert run_jobs([job]) == {job.id: "succeeded"}

    job.refresh_from_db()
    entries = get_redis_connection("default").xrange(stream_key(job.id))
    pieces = [fields[b"d"] for _, fields in entries if b"d" in fields]
    arrived = [int(entry_id.decode().split("-")[0]) / 1000 for entry_id, fields in entries if b"d" in fields]
    assert len(pieces) > 2, "the audio left in pieces as it decoded"
    assert arrived[0] < job.finished_at.timestamp(), "the first piece left before the job ended"
    streamed, stored = pcm16le_decode(b"".join(pieces)), stored_audio(job)
    assert streamed.size == stored.size
    assert np.abs(streamed - stored).max() <= PCM16_TOLERANCE


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_one_account_gets_at_most_its_share_of_a_batch_while_another_waits(serving, share):
    serving.SPEECH_BATCHING = {**serving.SPEECH_BATCHING, "gated_batch": {"window_ms": 1, "account_share": share}}
    engine = test_engines.GatedBatchEngine
    engine.gate, engine.entered, engine.batches = threading.Event(), threading.Event(), []
    busy, quiet = UserFactory(), UserFactory()

    def job(user, text):
        return QueuedJobFactory(user=user, text=text, engine="gated_batch", engine_voice="gated")

    first = job(busy, "busy first")
    busy_jobs = [job(busy, f"busy {n}") for n in range(6)]
    quiet_jobs = [job(quiet, f"quiet {n}") for n in range(2)]
    scheduler = scheduler_get("gated_batch")
    assert scheduler.account_share == share  # from the setting (DIA_ACCOUNT_SHARE for Dia)
    threads = [threading.Thread(target=run_jobs, args=([first],))]
    threads[0].start()
    assert engine.entered.wait(30), "the first job's batch holds the engine"
    for jobs, pending in ((busy_jobs, 6), (quiet_jobs, 8)):  # busy queues first, then quiet
        threads += [threading.Thread(target=run_jobs, args=([j],)) for j in jobs]
        for thread in threads[-len(jobs) :]:
            thread.start()
        _wait_until(lambda pending=pending: scheduler.stats()["pending"] == pending, f"{pending} pending")

    engine.gate.set()
    for thread in threads:
        thread.join(60)

    second = sorted(text.split()[0] for text in engine.batches[1])
    if share == 0.5:
        assert second == ["busy", "busy", "quiet", "quiet"]
    else:  # first come first served: the account that queued first takes the whole batch
        assert second == ["busy", "busy", "busy", "busy"]
    assert SynthesisJob.objects.filter(status="succeeded").count() == 9
    assert set(SynthesisJob.objects.filter(user=quiet).values_list("batch_size", flat=True)) == {4}


def test_an_out_of_memory_batch_fails_its_jobs_and_counts_once_toward_the_breaker(serving):
    jobs = [dia_job(text=f"[S1] Job number {n}.", seed=n, engine="dia_oom") for n in range(3)]

    outcomes = run_jobs(jobs)

    assert list(outcomes.values()) == ["failed"] * 3
    assert set(SynthesisJob.objects.values_list("error_code", flat=True)) == {"gpu_out_of_memory"}
    assert set(SynthesisJob.objects.values_list("batch_size", flat=True)) == {None}  # no audio ever left
    assert oom_count() == 1, "one batch that ran dry is one incident, however many jobs it held"
    assert switch_is_on("voice_cloning")


def _wait_until(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
