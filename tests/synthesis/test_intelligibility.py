"""Intelligibility: a job's output as the speech recogniser hears it, against the text the engine spoke.

The runner and the scorer are the real ones, on real Piper speech and Whisper tiny.en; only the message that
carries the scoring task to the `default` queue is caught here (the e2e test sends it through a real worker).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from ops.kpis import clone_quality_window
from speech.audio import encode
from synthesis.intelligibility import (
    SCORE_TASK,
    intelligibility_due,
    intelligibility_sampled,
    prefix_word_error_rate,
    reference_words,
)
from synthesis.models import JobStatus, SynthesisJob
from synthesis.services import synthesis_job_create
from synthesis.sweeper import synthesis_intelligibility_sweep
from synthesis.tasks import synthesis_job_intelligibility_task, synthesis_job_run_task
from tests.factories import SucceededJobFactory
from tests.support.media import speech

TEXT = "Dr. Okafor's clinic opens at 8:30 am on the 3rd of May. Please bring your card."


@pytest.fixture
def sent(monkeypatch):
    """The scoring tasks the runner (or sweeper) sends, caught before the broker."""
    calls = []

    def task_send(name, **options):
        calls.append((name, options["args"], options.get("queue")))
        return True

    monkeypatch.setattr("synthesis.intelligibility.task_send", task_send)
    monkeypatch.setattr("synthesis.sweeper.task_send", task_send)
    return calls


def _score(job) -> str:
    result = synthesis_job_intelligibility_task.apply(args=[str(job.id)]).get()
    job.refresh_from_db()
    return result


def _stored_job(user, samples, rate, *, fmt="wav", **fields) -> SynthesisJob:
    """A succeeded job whose stored output is `samples` (encoded as the runner stores it)."""
    data = encode(samples, rate, fmt, target_rate=rate)
    job = SucceededJobFactory(user=user, output_format=fmt, sample_rate=rate, audio_bytes=len(data), **fields)
    default_storage.delete(job.audio.name)
    default_storage.save(job.audio.name, ContentFile(data))
    return job


def test_a_builtin_job_in_the_share_is_scored_after_it_succeeds_and_the_api_shows_it(user, api, settings, sent):
    settings.INTELLIGIBILITY_BUILTIN_SHARE = 1.0
    job = synthesis_job_create(user=user, text=TEXT, voice_id="joe")

    assert synthesis_job_run_task.apply(args=[str(job.id)]).get() == "succeeded"
    before = api.get(f"/v1/tts/{job.id}").json()
    assert sent == [(SCORE_TASK, [str(job.id)], "default")]
    result = _score(job)

    assert (before["status"], before["intelligibility"]) == ("succeeded", None)
    assert result == "scored"
    # "Dr." was said "Doctor", "8:30 am" "eight thirty a m": what was spoken is the reference, so none of it is wrong.
    assert job.intelligibility_wer <= 0.15, job.intelligibility_transcript
    assert "clinic" in job.intelligibility_transcript.lower()
    assert job.intelligibility_model.startswith("whisper-tiny.en")
    assert job.intelligibility_seconds == pytest.approx(job.duration_seconds, abs=0.05)
    shown = api.get(f"/v1/tts/{job.id}").json()["intelligibility"]
    assert shown == {
        "wer": job.intelligibility_wer,
        "heard": job.intelligibility_transcript,
        "model": job.intelligibility_model,
        "threshold": settings.INTELLIGIBILITY_WER_THRESHOLD,
        "seconds": job.intelligibility_seconds,
    }
    assert _score(job) == "skipped"  # a duplicate message does nothing


def test_with_share_zero_builtin_jobs_are_not_scored(user, api, settings, sent):
    settings.INTELLIGIBILITY_BUILTIN_SHARE = 0.0
    job = synthesis_job_create(user=user, text="Nobody listens to this one.", voice_id="joe")

    assert synthesis_job_run_task.apply(args=[str(job.id)]).get() == "succeeded"

    job.refresh_from_db()
    assert sent == []
    assert job.intelligibility_scored_at is None
    assert api.get(f"/v1/tts/{job.id}").json()["intelligibility"] is None


def test_an_unintelligible_clone_is_no_clone_success_however_similar(user, client, settings):
    # given: a cloned job that sounds exactly like its voice, but whose output is speech played backwards
    samples = speech("The children played football in the garden after school.", rate=22050)
    job = _stored_job(
        user,
        samples[::-1].copy(),
        22050,
        voice_kind="cloned",
        voice_id=str(uuid.uuid4()),
        engine="dia",
        clone_similarity=0.95,
        spoken_text="[S1] The children played football in the garden after school. (laughs)",
    )

    # when: the real scorer hears it
    assert _score(job) == "scored"

    # then
    assert job.intelligibility_wer > settings.INTELLIGIBILITY_WER_THRESHOLD, job.intelligibility_transcript
    assert job.status == JobStatus.SUCCEEDED  # scoring judges; it never changes the customer's job
    quality = clone_quality_window("1h")
    assert quality["clone_similarity_pass_rate"] == 1.0
    assert quality["clone_intelligibility_pass_rate"] == 0.0
    assert quality["clone_success_rate"] == 0.0
    metrics = client.get("/metrics").content.decode()
    assert 'odiadev_clone_results_total{outcome="failure"} 1.0' in metrics
    assert 'odiadev_clone_checks_total{check="intelligibility",outcome="fail"} 1.0' in metrics
    assert 'odiadev_clone_checks_total{check="similarity",outcome="pass"} 1.0' in metrics
    assert 'odiadev_intelligibility_wer_count{voice_kind="cloned"} 1.0' in metrics


@pytest.mark.parametrize(("fmt", "rate"), [("ulaw", 8000), ("pcm", 16000)])
def test_a_headerless_output_is_heard_from_its_raw_bytes(user, settings, fmt, rate):
    # (Telephony audio is harder for tiny.en: "between nine and noon" at 8 kHz came back "but we're not in a noon".)
    samples = speech("The market is busy on Saturday mornings.", rate=rate)
    job = _stored_job(user, samples, rate, fmt=fmt, text="The market is busy on Saturday mornings.")

    assert _score(job) == "scored"
    assert job.intelligibility_wer <= settings.INTELLIGIBILITY_WER_THRESHOLD, job.intelligibility_transcript
    assert job.intelligibility_seconds == pytest.approx(len(samples) / rate, abs=0.01)


def test_a_long_output_is_heard_for_its_first_seconds_against_the_matching_text(user, settings):
    settings.INTELLIGIBILITY_MAX_SECONDS = 6.0
    text = (
        "The old fisherman pushed his boat into the water before sunrise. The sea was calm, and the only sound was "
        "the creak of the oars. By noon his nets were full, and he turned for home."
    )
    samples = speech(text, rate=22050)
    job = _stored_job(user, samples, 22050, spoken_text=text, duration_seconds=len(samples) / 22050)

    assert _score(job) == "scored"
    assert job.duration_seconds > 9
    assert job.intelligibility_seconds == pytest.approx(6.0, abs=0.01)
    # Against the whole text the missing end alone would be a WER over 0.5.
    assert job.intelligibility_wer <= 0.15, job.intelligibility_transcript


def test_scoring_that_fails_leaves_the_job_succeeded_without_a_score(user, api, caplog):
    job = SucceededJobFactory(user=user)  # its stored "audio" is 2 KB of zero bytes: no recogniser can read it

    assert _score(job) == "failed"

    assert job.status == JobStatus.SUCCEEDED
    assert job.intelligibility_wer is None
    assert job.intelligibility_scored_at is not None  # tried: neither the task nor the sweeper repeats it
    assert "could not score the intelligibility" in caplog.text
    assert api.get(f"/v1/tts/{job.id}").json()["intelligibility"] is None
    assert _score(job) == "skipped"


def test_cache_hits_and_unfinished_jobs_are_not_scored(user, settings):
    settings.INTELLIGIBILITY_BUILTIN_SHARE = 1.0
    source = SucceededJobFactory(user=user, voice_kind="cloned")
    hit = SucceededJobFactory(user=user, voice_kind="cloned", cached=True, source_job=source, stored=False)
    hit.audio = source.audio
    hit.save()

    assert intelligibility_due(source)
    assert not intelligibility_due(hit)
    assert _score(hit) == "not scored"
    assert hit.intelligibility_scored_at is None


def test_the_sweeper_resends_lost_scores_of_cloned_jobs_once_an_hour(user, sent):
    now = timezone.now()
    lost = SucceededJobFactory(user=user, voice_kind="cloned", finished_at=now - timedelta(minutes=20))
    SucceededJobFactory(user=user, voice_kind="cloned", finished_at=now - timedelta(minutes=2))  # still in flight
    SucceededJobFactory(
        user=user, voice_kind="cloned", finished_at=now - timedelta(minutes=20), intelligibility_scored_at=now
    )
    SucceededJobFactory(user=user, finished_at=now - timedelta(minutes=20))  # built-in: a sample, not chased

    assert synthesis_intelligibility_sweep(now=now) == 1
    assert synthesis_intelligibility_sweep(now=now) == 0
    assert sent == [(SCORE_TASK, [str(lost.id)], "default")]


def test_the_builtin_sample_is_reproducible_and_about_its_share():
    ids = [uuid.UUID(int=n * 7919 + 13) for n in range(4000)]

    picked = [job_id for job_id in ids if intelligibility_sampled(job_id, 0.05)]

    assert 0.035 < len(picked) / len(ids) < 0.065
    assert picked == [job_id for job_id in ids if intelligibility_sampled(str(job_id), 0.05)]
    assert not any(intelligibility_sampled(job_id, 0.0) for job_id in ids[:50])
    assert all(intelligibility_sampled(job_id, 1.0) for job_id in ids[:50])


def test_reference_words_leave_out_dialogue_tags_and_a_clone_s_nonverbals():
    spoken = "[S1] Hello there. (laughs) [S2] Room two hundred."

    assert reference_words(spoken, cloned=True) == ["hello", "there", "room", "two", "hundred"]
    assert reference_words(spoken, cloned=False) == ["hello", "there", "laughs", "room", "two", "hundred"]


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("the sea was calm and", (0.0, 5)),  # the beginning, word for word
        ("the sea was palm and", (0.2, 5)),
        ("", (1.0, 0)),
        ("nothing like it at all", (1.0, 5)),
    ],
)
def test_prefix_word_error_rate_matches_the_best_beginning(heard, expected):
    reference = "the sea was calm and the only sound was the creak of the oars".split()

    wer, length = prefix_word_error_rate(reference, heard.split())

    assert (round(wer, 3), length) == expected


def test_noise_is_no_speech(user):
    rng = np.random.default_rng(0)
    job = _stored_job(user, (rng.standard_normal(22050 * 2) * 0.1).astype(np.float32), 22050, text="Hello world.")

    assert _score(job) == "scored"
    assert job.intelligibility_wer >= 0.5, job.intelligibility_transcript
