"""A live job (text-in streaming, synthesis.live) in one process: its slot, its pieces billed one by one, its end,
its assembly (idempotent) and the sweeper's part. The socket itself is tested on the live stack
(test_live_tts.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.errors import ConcurrencyLimit
from billing.models import BillingAccount, LedgerEntry
from billing.services import plan_assign
from synthesis.errors import JobNotCancellable, LiveContextClosed
from synthesis.live import live_job_cancel, live_job_close, live_job_open, live_jobs_sweep, live_piece_submit
from synthesis.live_runner import live_job_assemble
from synthesis.models import JobStatus, SynthesisJob
from synthesis.runner import synthesis_job_execute
from synthesis.selectors import job_list_for
from synthesis.services import synthesis_job_create
from synthesis.sweeper import synthesis_jobs_sweep
from synthesis.transitions import synthesis_job_cancel

FIRST, SECOND = "The first piece is spoken.", "Then comes the second one."


def _balance(user) -> int:
    return BillingAccount.objects.get(user=user).balance


@pytest.fixture
def pro(user):
    """A Pro account (pcm allowed), and its balance before the test."""
    plan_assign(user=user, slug="pro")
    return user, _balance(user)


def test_a_live_job_holds_one_job_slot_and_its_pieces_none(user):
    # given the free plan: one job at a time
    job = live_job_open(user=user, voice_id="joe", output_format="mp3")
    piece = live_piece_submit(job=job, piece=0, text=FIRST)
    live_piece_submit(job=job, piece=1, text=SECOND)  # (pieces take no slot)

    with pytest.raises(ConcurrencyLimit):
        synthesis_job_create(user=user, text="Another job.", voice_id="joe")
    with pytest.raises(ConcurrencyLimit):
        live_job_open(user=user, voice_id="joe", output_format="mp3")
    assert job.status == JobStatus.RUNNING
    assert piece.parent_id == job.id
    assert list(job_list_for(user=user)) == [job]  # its pieces are not listed
    assert _balance(user) == 10_000 - len(FIRST) - len(SECOND)  # reserved as each piece was cut


def test_pieces_are_billed_as_made_and_the_assembly_joins_them_once(pro):
    user, before = pro
    job = live_job_open(user=user, voice_id="joe", output_format="pcm")
    pieces = [live_piece_submit(job=job, piece=n, text=text) for n, text in enumerate((FIRST, SECOND))]

    # while a piece is not made, the assembly waits
    live_job_close(job_id=job.id)
    assert live_job_assemble(job_id=job.id) == "waiting"

    for piece in pieces:
        assert synthesis_job_execute(job_id=piece.id) == "succeeded"
    assert live_job_assemble(job_id=job.id) == "succeeded"
    assert live_job_assemble(job_id=job.id) == "skipped"  # a repeat changes nothing

    job.refresh_from_db()
    made = [SynthesisJob.objects.get(pk=p.pk) for p in pieces]
    assert job.status == JobStatus.SUCCEEDED
    assert job.text == f"{FIRST} {SECOND}"
    assert job.characters == len(FIRST) + len(SECOND)
    # one file: the pieces' samples, joined with one crossfade (15 ms at 22.05 kHz) at the seam
    assert job.audio_bytes == sum(p.audio_bytes for p in made) - 2 * int(22050 * 0.015)
    assert _balance(user) == before - job.characters
    assert sorted(LedgerEntry.objects.filter(job__parent=job).values_list("kind", flat=True)) == [
        "capture",
        "capture",
        "reserve",
        "reserve",
    ]
    assert not LedgerEntry.objects.filter(job=job).exists()


def test_cancel_releases_the_pieces_not_made_and_no_piece_joins_after_the_end(pro):
    user, before = pro
    job = live_job_open(user=user, voice_id="joe", output_format="pcm")
    first = live_piece_submit(job=job, piece=0, text=FIRST)
    synthesis_job_execute(job_id=first.id)
    second = live_piece_submit(job=job, piece=1, text=SECOND)

    spoken = live_job_cancel(job_id=job.id)

    assert spoken == {"pieces": 1, "characters": len(FIRST)}
    assert SynthesisJob.objects.get(pk=second.pk).status == JobStatus.CANCELLED
    assert synthesis_job_execute(job_id=second.id) == "skipped"  # its message, if a worker still takes it
    assert _balance(user) == before - len(FIRST)
    with pytest.raises(LiveContextClosed):
        live_piece_submit(job=job, piece=2, text="Too late.")
    assert live_job_assemble(job_id=job.id) == "succeeded"
    job.refresh_from_db()
    assert (job.status, job.characters, job.chunks_done, job.chunks_total) == ("succeeded", len(FIRST), 1, 2)


def test_a_live_job_is_cancelled_on_its_socket_not_over_http(api, pro):
    user, _ = pro
    job = live_job_open(user=user, voice_id="joe", output_format="pcm")

    with pytest.raises(JobNotCancellable):
        synthesis_job_cancel(job=job)
    assert api.post(f"/v1/tts/{job.id}/cancel").status_code == 409


def test_a_context_that_spoke_nothing_ends_cancelled(user):
    job = live_job_open(user=user, voice_id="joe", output_format="mp3")
    live_job_close(job_id=job.id)

    assert live_job_assemble(job_id=job.id) == JobStatus.CANCELLED
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert not job.audio


def test_the_sweeper_closes_an_abandoned_context_and_leaves_live_jobs_to_their_own_sweep(pro, settings):
    user, _ = pro
    job = live_job_open(user=user, voice_id="joe", output_format="pcm")
    piece = live_piece_submit(job=job, piece=0, text=FIRST)
    synthesis_job_execute(job_id=piece.id)
    quiet = settings.TTS_WS_CONTEXT_IDLE_SECONDS + settings.TTS_JOB_TIME_LIMIT + 120
    SynthesisJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - timedelta(seconds=quiet), started_at=timezone.now() - timedelta(seconds=quiet)
    )

    synthesis_jobs_sweep()  # the jobs' sweep: a live job runs no task, so it is not "abandoned" there
    assert SynthesisJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
    swept = live_jobs_sweep()

    assert swept["live_closed"] == 1
    assert SynthesisJob.objects.get(pk=job.pk).live_closed_at is not None
    assert live_job_assemble(job_id=job.id) == "succeeded"


def test_a_live_job_does_not_count_as_a_slow_job_in_the_latency_figures(pro):
    from ops.latency import latency_percentiles

    user, _ = pro
    job = live_job_open(user=user, voice_id="joe", output_format="pcm")
    piece = live_piece_submit(job=job, piece=0, text=FIRST)
    synthesis_job_execute(job_id=piece.id)
    live_job_close(job_id=job.id)
    # a context that stayed open ten minutes
    SynthesisJob.objects.filter(pk=job.pk).update(queued_at=timezone.now() - timedelta(minutes=10))
    assert live_job_assemble(job_id=job.id) == "succeeded"

    now = timezone.now()
    figures = latency_percentiles(since=now - timedelta(hours=1), until=now + timedelta(minutes=1), qs=(1.0,))
    assert figures[1.0] < 60  # the slowest job counted is the piece, not the ten-minute context


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "ulaw"])
def test_the_assembly_joins_every_streamable_format(pro, fmt):
    import soundfile as sf

    user, _ = pro
    job = live_job_open(user=user, voice_id="joe", output_format=fmt)
    for n, text in enumerate((FIRST, SECOND)):
        synthesis_job_execute(job_id=live_piece_submit(job=job, piece=n, text=text).id)
    live_job_close(job_id=job.id)

    assert live_job_assemble(job_id=job.id) == "succeeded"
    job.refresh_from_db()
    pieces = SynthesisJob.objects.filter(parent=job)
    assert job.duration_seconds == pytest.approx(sum(p.duration_seconds for p in pieces), abs=0.1)
    if fmt != "ulaw":  # (raw μ-law has no header to read back)
        with job.audio.open("rb") as stored:
            info = sf.info(stored)
        assert info.duration == pytest.approx(job.duration_seconds, abs=0.1)
        assert info.samplerate == job.sample_rate
