"""The sweeper sends what has no message on the broker, and nothing else: a 2,000-job backlog is not multiplied, a
job committed without a message is sent after a short grace, a lost message is replaced, a reserved one is not.

Everything runs against the test Redis (the broker) on a queue of the test's own, which no worker consumes."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu import Connection

from core.broker import broker_client, queue_keys, queue_length
from core.metrics import queue_lengths
from odiadev.celery import app
from synthesis.models import JobStatus, SynthesisJob
from synthesis.services import synthesis_job_create
from synthesis.sweeper import synthesis_jobs_sweep
from synthesis.transitions import RUN_JOB_TASK, synthesis_job_enqueue
from tests.factories import QueuedJobFactory

LONG_AGO = timedelta(hours=1)


@pytest.fixture
def queue(settings):
    """A queue of this test's own for every engine (no worker listens to it), emptied afterwards."""
    name = f"synth-test-{uuid.uuid4().hex[:8]}"
    settings.SPEECH_ENGINE_QUEUES = {"piper": name, "dia": name}
    yield name
    broker_client().delete(*queue_keys(name))


def _job_ids_waiting(queue: str) -> list[str]:
    """The job id of every message in `queue`, duplicates included (read as a worker would: kombu decodes them)."""
    ids = []
    with Connection(app.conf.broker_url) as conn:
        channel = conn.default_channel
        for key in queue_keys(queue):
            for raw in broker_client().lrange(key, 0, -1):
                message = channel.message_to_python(json.loads(raw))
                args, _kwargs, _embed = message.decode()
                ids.append(args[0])
    return ids


def _backdate(*job_ids, **fields) -> None:
    SynthesisJob.objects.filter(pk__in=job_ids).update(**{name: timezone.now() - age for name, age in fields.items()})


def test_a_2000_job_backlog_is_swept_twice_without_a_duplicate(user, queue, client):
    # given 2,000 jobs queued an hour ago, each with its message really on the queue (no worker consuming)
    old = timezone.now() - LONG_AGO
    jobs = SynthesisJob.objects.bulk_create(
        [QueuedJobFactory.build(user=user, queued_at=old, enqueued_at=None) for _ in range(2000)]
    )
    for job in jobs:
        assert synthesis_job_enqueue(job_id=job.id, engine=job.engine)
    assert SynthesisJob.objects.filter(enqueued_at__isnull=True).count() == 0  # marked once the broker took them
    # ... sent long before TTS_REQUEUE_AFTER, all but the last 100, whose mark was lost (sent, never recorded)
    _backdate(*[job.id for job in jobs[:1900]], enqueued_at=LONG_AGO)
    SynthesisJob.objects.filter(pk__in=[job.id for job in jobs[1900:]]).update(enqueued_at=None)
    assert queue_length(queue) == 2000

    # when the sweeper runs twice
    first, second = synthesis_jobs_sweep(), synthesis_jobs_sweep()

    # then nothing was sent again: one message per job, and the metric counts jobs
    assert (first["resent"], second["resent"]) == (0, 0)
    waiting = _job_ids_waiting(queue)
    assert len(waiting) == len(set(waiting)) == 2000
    assert set(waiting) == {str(job.id) for job in jobs}
    assert queue_lengths()[queue] == 2000
    assert f'odiadev_queue_length{{queue="{queue}"}} 2000.0' in client.get("/metrics").content.decode()


def test_a_job_committed_without_a_message_is_sent_after_the_grace(user, queue, settings):
    # given a job whose web process died between the commit and the send (here: the test's transaction never
    # commits, so the on-commit send never runs)
    job = synthesis_job_create(user=user, text="My web process died.", voice_id="joe")
    assert SynthesisJob.objects.get(pk=job.pk).enqueued_at is None  # not marked sent before it is

    # when the sweeper runs within the grace, it leaves the job to its own send
    assert synthesis_jobs_sweep()["resent"] == 0
    assert queue_length(queue) == 0

    # then the first sweep after the grace sends it, once
    _backdate(job.id, queued_at=timedelta(seconds=settings.TTS_SEND_GRACE + 1))
    assert synthesis_jobs_sweep()["resent"] == 1
    assert _job_ids_waiting(queue) == [str(job.id)]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert timezone.now() - job.enqueued_at < timedelta(seconds=30)
    assert synthesis_jobs_sweep()["resent"] == 0
    assert _job_ids_waiting(queue) == [str(job.id)]


def test_a_lost_message_is_sent_again_and_only_once(user, queue, settings):
    job = QueuedJobFactory(user=user, queued_at=timezone.now() - LONG_AGO, enqueued_at=None)
    assert synthesis_job_enqueue(job_id=job.id, engine=job.engine)
    _backdate(job.id, enqueued_at=timedelta(seconds=settings.TTS_REQUEUE_AFTER + 1))
    assert synthesis_jobs_sweep()["resent"] == 0  # its message is still waiting

    # when the message is lost (a Redis restart without persistence)
    broker_client().delete(*queue_keys(queue))

    # then the next sweep sends it again, and the one after does not
    assert synthesis_jobs_sweep()["resent"] == 1
    assert synthesis_jobs_sweep()["resent"] == 0
    assert _job_ids_waiting(queue) == [str(job.id)]


def test_a_message_reserved_by_a_worker_is_not_sent_again_until_it_is_held_too_long(user, queue, settings):
    job = QueuedJobFactory(user=user, queued_at=timezone.now() - LONG_AGO, enqueued_at=None)
    assert synthesis_job_enqueue(job_id=job.id, engine=job.engine)
    _backdate(job.id, enqueued_at=timedelta(seconds=settings.TTS_REQUEUE_AFTER + 1))
    with Connection(app.conf.broker_url) as conn:
        # given a consumer that took the message and has not acknowledged it (as a worker about to claim the job)
        reserved = conn.SimpleQueue(queue, no_ack=False).get(timeout=5)
        assert reserved.decode()[0] == [str(job.id)]
        assert queue_length(queue) == 0

        # then the sweeper leaves it
        assert synthesis_jobs_sweep()["resent"] == 0
        assert queue_length(queue) == 0

        # but a reservation held longer than any live worker holds one is taken for lost with its worker
        settings.TTS_RESERVED_LOST_AFTER = 0
        assert synthesis_jobs_sweep()["resent"] == 1
        assert _job_ids_waiting(queue) == [str(job.id)]
        reserved.ack()


def test_a_job_whose_worker_died_is_sent_again_even_with_its_dead_reservation(user, queue, settings):
    job = QueuedJobFactory(user=user, queued_at=timezone.now() - LONG_AGO, enqueued_at=None)
    assert synthesis_job_enqueue(job_id=job.id, engine=job.engine)
    with Connection(app.conf.broker_url) as conn:
        # given a worker that took the message, claimed the job and died (its reservation stays on the broker
        # until the visibility timeout, an hour)
        reserved = conn.SimpleQueue(queue, no_ack=False).get(timeout=5)
        SynthesisJob.objects.filter(pk=job.pk).update(
            status=JobStatus.RUNNING, started_at=timezone.now(), attempts=1, worker="gone-host:1"
        )

        # then the sweeper puts the job back and sends it at once
        assert synthesis_jobs_sweep() == {"resent": 1, "failed": 0}
        assert _job_ids_waiting(queue) == [str(job.id)]
        assert SynthesisJob.objects.get(pk=job.pk).status == JobStatus.QUEUED
        assert synthesis_jobs_sweep()["resent"] == 0
        reserved.ack()


def test_the_scan_reads_every_priority_list(user, queue, settings):
    job = QueuedJobFactory(user=user, queued_at=timezone.now() - LONG_AGO, enqueued_at=timezone.now() - LONG_AGO)
    app.send_task(RUN_JOB_TASK, args=[str(job.id)], queue=queue, priority=9)
    assert broker_client().llen(queue) == 0
    assert queue_length(queue) == 1

    assert synthesis_jobs_sweep()["resent"] == 0
