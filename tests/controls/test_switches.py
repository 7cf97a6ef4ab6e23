"""Kill switches and the OOM breaker: audited flips, environment override, refusal in the API and the worker."""

import json

import pytest
from rest_framework.test import APIClient

from billing.services import plan_assign
from controls.breaker import oom_count, oom_record
from controls.models import SwitchChange
from controls.switches import switch_is_on, switch_set, switch_state
from core.metrics import counter_value
from synthesis.models import JobStatus
from synthesis.tasks import synthesis_job_run_task
from tests.factories import ActiveVoiceFactory, QueuedJobFactory


def test_flips_are_audited_and_need_a_reason(user, db):
    assert switch_is_on("voice_cloning") is True

    switch_set(name="voice_cloning", enabled=False, reason="GPU pool drained", user=user)

    assert switch_is_on("voice_cloning") is False
    change = SwitchChange.objects.get()
    assert (change.actor, change.enabled, change.reason) == (user.email, False, "GPU pool drained")
    with pytest.raises(ValueError, match="reason"):
        switch_set(name="voice_cloning", enabled=True, reason="  ")


def test_environment_forces_cloning_off(db, monkeypatch):
    monkeypatch.setenv("DISABLE_VOICE_CLONING", "1")

    assert switch_is_on("voice_cloning") is False
    assert switch_state("voice_cloning")["forced_off_by_env"] is True


def _client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_refuses_cloned_voices_when_the_switch_is_off(db, monkeypatch):
    voice = ActiveVoiceFactory()
    monkeypatch.setenv("DISABLE_VOICE_CLONING", "true")

    response = _client_for(voice.user).post(
        "/v1/tts", data=json.dumps({"text": "Hi", "voice_id": str(voice.id)}), content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cloning_disabled"


def test_cloned_voice_without_a_cloning_engine_is_refused_up_front(db, settings):
    settings.CLONING_ENGINE = ""
    voice = ActiveVoiceFactory()
    plan_assign(user=voice.user, slug="pro")

    response = _client_for(voice.user).post(
        "/v1/tts", data=json.dumps({"text": "Hi", "voice_id": str(voice.id)}), content_type="application/json"
    )

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "cloning_engine_unavailable"


def test_breaker_trips_at_the_threshold_and_resets_when_turned_back_on(db, settings):
    settings.OOM_BREAKER_THRESHOLD = 3

    assert oom_record(detail="job 1") is False
    assert oom_record(detail="job 2") is False
    assert switch_is_on("voice_cloning") is True
    assert oom_record(detail="job 3") is True

    assert switch_is_on("voice_cloning") is False
    state = switch_state("voice_cloning")
    assert "OOM breaker: 3 CUDA out-of-memory errors" in state["reason"]
    assert SwitchChange.objects.get().actor == "oom-breaker"
    assert counter_value("odiadev_gpu_oom") == 3

    switch_set(name="voice_cloning", enabled=True, reason="operator: pool resized")
    assert oom_count() == 0
    assert oom_record() is False
    assert switch_is_on("voice_cloning") is True


def test_cuda_oom_fails_only_that_job_and_counts_toward_the_breaker(db, settings):
    settings.SPEECH_ENGINES = {**settings.SPEECH_ENGINES, "oom": "tests.support.engines.OutOfMemoryEngine"}
    settings.OOM_BREAKER_THRESHOLD = 2
    first, second, other = QueuedJobFactory(engine="oom"), QueuedJobFactory(engine="oom"), QueuedJobFactory()

    synthesis_job_run_task.apply(args=[str(first.id)])
    first.refresh_from_db()
    assert first.status == JobStatus.FAILED
    assert first.error_code == "gpu_out_of_memory"
    assert switch_is_on("voice_cloning") is True

    synthesis_job_run_task.apply(args=[str(second.id)])
    assert switch_is_on("voice_cloning") is False  # tripped
    synthesis_job_run_task.apply(args=[str(other.id)])
    other.refresh_from_db()
    assert other.status == JobStatus.SUCCEEDED  # built-in voices keep working
