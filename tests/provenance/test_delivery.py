"""Free-plan (and opted-in) audio carries the watermark in every stored format, cache hits reuse the marked file,
paid audio stays unmarked; a worker without PerTh fails the job (and refuses to start) rather than deliver
unmarked audio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

import speech.watermark as wm
from billing.services import account_watermark_set, plan_assign
from odiadev.worker import watermark_startup_check
from speech.audio_input import decode
from speech.watermark import DETECTION_THRESHOLD, watermark_detect
from synthesis.models import JobStatus
from synthesis.runner import synthesis_job_execute
from synthesis.services import synthesis_job_create

TEXT = "Provenance matters. This sentence was spoken by a machine."


def _stored_confidence(job) -> float:
    with default_storage.open(job.audio.name, "rb") as f:
        decoded = decode(f.read())
    return watermark_detect(decoded.samples, decoded.sample_rate)


def _run(user, fmt: str):
    job = synthesis_job_create(user=user, text=TEXT, voice_id="joe", output_format=fmt)
    assert synthesis_job_execute(job_id=job.id) == "succeeded"
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_free_audio_is_marked_in_every_format_of_the_plan(user, fmt):
    job = _run(user, fmt)

    assert job.watermark is True
    assert _stored_confidence(job) >= DETECTION_THRESHOLD


@pytest.mark.parametrize("fmt", ["ogg", "flac"])
def test_an_opted_in_paid_account_gets_marked_audio(user, fmt):
    plan_assign(user=user, slug="starter")
    account_watermark_set(user=user, opt_in=True)

    job = _run(user, fmt)

    assert job.watermark is True
    assert _stored_confidence(job) >= DETECTION_THRESHOLD


def test_paid_audio_is_not_marked(user):
    plan_assign(user=user, slug="starter")

    job = _run(user, "wav")

    assert job.watermark is False
    assert _stored_confidence(job) < 0.1


def test_a_cache_hit_reuses_the_marked_file_and_never_crosses_the_flag(user):
    plan_assign(user=user, slug="starter")
    unmarked = _run(user, "wav")
    account_watermark_set(user=user, opt_in=True)

    # given the opt-in, the unmarked audio of the same text no longer answers
    marked = _run(user, "wav")
    hit = synthesis_job_create(user=user, text=TEXT, voice_id="joe")

    assert marked.cached is False
    assert marked.cache_key != unmarked.cache_key
    assert hit.cached is True
    assert hit.audio.name == marked.audio.name
    assert _stored_confidence(hit) >= DETECTION_THRESHOLD


def test_opting_out_does_not_unmark_the_free_plan(user, api):
    response = api.patch("/v1/account", {"watermark_opt_in": False}, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "plan": "free",
        "watermark_opt_in": False,
        "watermarked": True,
        "plan_watermarked": True,
    }
    assert _run(user, "wav").watermark is True


def test_the_opt_in_through_the_api_and_the_billing_page(user, api, client):
    plan_assign(user=user, slug="pro")
    assert api.get("/v1/account").json()["watermarked"] is False

    response = api.patch("/v1/account", {"watermark_opt_in": True}, format="json")

    assert response.status_code == 200
    assert response.json()["watermarked"] is True
    assert api.patch("/v1/account", {"watermark_opt_in": "maybe"}, format="json").status_code == 400
    client.force_login(user)
    assert 'data-testid="watermark-opt-in"' in client.get("/billing/").content.decode()
    client.post("/billing/watermark/", {})  # the checkbox unticked
    assert api.get("/v1/account").json()["watermark_opt_in"] is False


def test_a_worker_without_perth_fails_the_job_instead_of_delivering_it_unmarked(user, monkeypatch):
    import perth

    monkeypatch.setattr(perth, "PerthImplicitWatermarker", None)
    monkeypatch.setattr(wm, "_watermarker", None)
    job = synthesis_job_create(user=user, text=TEXT, voice_id="joe")

    with pytest.raises(wm.WatermarkUnavailable):
        synthesis_job_execute(job_id=job.id)

    job.refresh_from_db()
    assert job.status != JobStatus.SUCCEEDED
    assert not job.audio


def test_a_worker_that_may_need_the_mark_refuses_to_start_without_perth(monkeypatch, caplog):
    import perth

    monkeypatch.setattr(perth, "PerthImplicitWatermarker", None)

    with pytest.raises(SystemExit, match="PerthImplicitWatermarker is None"):
        watermark_startup_check(queues={"synth", "default"})
    assert "The worker will not start" in caplog.text
    watermark_startup_check(queues={"some_other_queue"})  # no synthesis, no provenance checks: starts


def test_a_real_worker_exits_at_start_when_perth_is_broken(tmp_path):
    # A stand-in for resemble-perth whose network failed to import: what perth leaves behind, the class as None.
    (tmp_path / "perth").mkdir()
    (tmp_path / "perth" / "__init__.py").write_text("PerthImplicitWatermarker = None\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "DJANGO_SETTINGS_MODULE": "odiadev.settings.test"}

    result = subprocess.run(
        [str(Path(sys.executable).parent / "celery"), "-A", "odiadev", "worker", "-Q", "synth", "--concurrency", "1"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert "PerthImplicitWatermarker is None" in result.stderr
    assert "The worker will not start" in result.stderr
