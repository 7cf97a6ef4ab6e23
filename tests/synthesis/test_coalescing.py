"""Identical jobs in flight share one synthesis (synthesis/coalescing.py), and each costs what a cache hit costs.

Jobs are submitted through the service and run in this process; their task messages go to a queue no worker
reads, so the suite's live worker (if it is up) never takes them."""

import asyncio
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from billing.models import BillingAccount, EntryKind, LedgerEntry
from core.metrics import counter_value
from synthesis.models import JobStatus, SynthesisJob
from synthesis.runner import synthesis_job_execute
from synthesis.services import synthesis_job_create
from synthesis.streaming import stream_relay

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Two clients asked for this sentence at the same moment. It is spoken once."


@pytest.fixture
def pro(pro_unread):
    return pro_unread


def _submit(user, **options) -> SynthesisJob:
    job = synthesis_job_create(user=user, text=TEXT, voice_id="joe", output_format="mp3", **options)
    assert not job.cached  # a miss: nothing had this audio yet
    return job


def _run_together(jobs) -> list[str]:
    results, barrier = {}, threading.Barrier(len(jobs))

    def run(job):
        try:
            barrier.wait()
            results[job.id] = synthesis_job_execute(job_id=job.id)
        finally:
            connection.close()  # as Celery's Django fix-up does after each task: the pool gets it back

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return [results[job.id] for job in jobs]


def _ledger(job) -> list[tuple[str, int]]:
    return sorted(LedgerEntry.objects.filter(job=job).values_list("kind", "amount"))


def _balance(user) -> int:
    return BillingAccount.objects.get(user=user).balance


def _engine_runs() -> float:
    return counter_value("odiadev_engine_runs", {"engine": "piper"})


def test_two_identical_jobs_running_at_once_are_synthesized_once(pro):
    # given two identical submits that both missed the cache
    first, second = _submit(pro), _submit(pro)
    assert first.cache_key == second.cache_key
    balance = _balance(pro)

    # when two workers run them at the same moment
    results = _run_together([first, second])

    # then one was synthesized and the other waited and was served its audio
    assert sorted(results) == ["coalesced", "succeeded"]
    assert _engine_runs() == 1
    jobs = {job.cached: job for job in SynthesisJob.objects.filter(pk__in=[first.pk, second.pk])}
    made, served = jobs[False], jobs[True]
    assert made.status == served.status == JobStatus.SUCCEEDED
    assert made.engine_seconds > 0
    assert served.engine_seconds == 0
    assert served.source_job_id == made.id
    assert served.audio.name == made.audio.name
    assert default_storage.exists(made.audio.name)
    assert (served.audio_bytes, served.duration_seconds) == (made.audio_bytes, made.duration_seconds)
    # and each costs what it would have cost (cache hits are billed by default: the characters, as a miss)
    characters = len(TEXT)
    assert _ledger(made) == _ledger(served) == [(EntryKind.CAPTURE, 0), (EntryKind.RESERVE, -characters)]
    assert _balance(pro) == balance


def test_with_free_cache_hits_the_served_job_costs_nothing(pro, settings):
    settings.TTS_BILL_CACHE_HITS = False
    first, second = _submit(pro), _submit(pro)
    balance = _balance(pro)

    results = _run_together([first, second])

    assert sorted(results) == ["coalesced", "succeeded"]
    served = SynthesisJob.objects.get(pk__in=[first.pk, second.pk], cached=True)
    made = SynthesisJob.objects.get(pk__in=[first.pk, second.pk], cached=False)
    characters = len(TEXT)
    assert _ledger(made) == [(EntryKind.CAPTURE, 0), (EntryKind.RESERVE, -characters)]
    assert _ledger(served) == [(EntryKind.RELEASE, characters), (EntryKind.RESERVE, -characters)]
    assert _balance(pro) == balance + characters  # the served job's reservation came back


def test_a_job_whose_twin_finished_first_is_served_from_the_cache(pro):
    # given two identical jobs queued together, the first run to its end before the second starts
    first, second = _submit(pro), _submit(pro)
    assert synthesis_job_execute(job_id=first.id) == "succeeded"

    # when the second runs, then it is answered from the first's audio, with no engine work
    assert synthesis_job_execute(job_id=second.id) == "coalesced"
    assert _engine_runs() == 1
    second.refresh_from_db()
    assert (second.cached, second.source_job_id, second.status) == (True, first.id, JobStatus.SUCCEEDED)


def test_different_requests_are_not_coalesced(pro):
    first, second = _submit(pro), _submit(pro, speed=1.25)

    assert sorted(_run_together([first, second])) == ["succeeded", "succeeded"]
    assert _engine_runs() == 2


def test_a_twin_whose_original_was_cancelled_synthesizes_itself(pro):
    from synthesis.transitions import synthesis_job_cancel

    first, second = _submit(pro), _submit(pro)
    synthesis_job_cancel(job=first)

    assert synthesis_job_execute(job_id=second.id) == "succeeded"
    second.refresh_from_db()
    assert second.cached is False
    assert second.engine_seconds > 0


def test_a_streamed_job_served_from_the_cache_streams_the_stored_audio(pro):
    first, second = _submit(pro), _submit(pro, streamed=True)
    synthesis_job_execute(job_id=first.id)

    assert synthesis_job_execute(job_id=second.id) == "coalesced"

    async def relayed() -> bytes:
        return b"".join([piece async for piece in stream_relay(job_id=second.id, timeout=5)])

    second.refresh_from_db()
    stored = default_storage.open(second.audio.name).read()
    assert len(stored) > 1000
    assert asyncio.run(relayed()) == stored
