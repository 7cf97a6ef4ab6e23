"""Which state changes become webhook deliveries: jobs that succeed (cache hits too) or fail, voices verified or
rejected — stored with the change itself, for the subscribed endpoints only."""

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from synthesis.services import synthesis_job_create
from synthesis.transitions import synthesis_job_claim, synthesis_job_fail, synthesis_job_succeed
from tests.factories import ActiveVoiceFactory, QueuedJobFactory
from voices.verification import Verdict, voice_profile_decide, voice_profile_reject
from webhooks.models import WebhookDelivery

from .helpers import register

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/hooks/odiadev"
ALL = ("job.succeeded", "job.failed", "voice.verified", "voice.rejected")


def _events(endpoint) -> list[tuple[str, dict]]:
    return [(d.event_type, d.payload) for d in WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at")]


def test_a_job_that_succeeds_announces_itself_with_an_absolute_audio_link(user):
    issued = register(user, URL, events=ALL)
    job = QueuedJobFactory(user=user, status="running", attempts=1, started_at=timezone.now())

    assert synthesis_job_succeed(
        job=job, audio_name=f"audio/{job.id}.wav", audio_bytes=100, duration=1.5, engine_seconds=0.2
    )

    [(event_type, payload)] = _events(issued.endpoint)
    assert event_type == payload["type"] == "job.succeeded"
    assert payload["id"].startswith("evt_")
    assert payload["data"]["job"]["id"] == str(job.id)
    assert payload["data"]["job"]["status"] == "succeeded"
    assert payload["data"]["job"]["duration_seconds"] == 1.5
    assert payload["data"]["job"]["audio_url"].startswith(f"{settings.PUBLIC_BASE_URL}/v1/tts/{job.id}/audio?token=")


def test_a_cache_hit_succeeds_at_once_and_is_announced_too(user):
    issued = register(user, URL, events=["job.succeeded"])
    first = synthesis_job_create(user=user, text="Say it twice.", voice_id="joe", output_format="wav")
    running = synthesis_job_claim(job_id=first.id)
    synthesis_job_succeed(job=running, audio_name=f"audio/{first.id}.wav", audio_bytes=9, duration=1, engine_seconds=0)

    hit = synthesis_job_create(user=user, text="Say it twice.", voice_id="joe", output_format="wav")

    assert hit.cached
    assert [p["data"]["job"]["id"] for _, p in _events(issued.endpoint)] == [str(first.id), str(hit.id)]


def test_only_subscribed_endpoints_get_an_event(user):
    jobs_only = register(user, URL, events=["job.failed"])
    voices_only = register(user, URL, events=["voice.verified"])

    synthesis_job_fail(job_id=QueuedJobFactory(user=user).id, code="engine_error", message="broke")

    assert [t for t, _ in _events(jobs_only.endpoint)] == ["job.failed"]
    assert _events(voices_only.endpoint) == []


def test_voice_verification_announces_verified_or_rejected(user):
    issued = register(user, URL, events=ALL)
    accepted = ActiveVoiceFactory(user=user, status="verifying", embedding=None)
    mismatched = ActiveVoiceFactory(user=user, status="verifying", embedding=None)
    unusable = ActiveVoiceFactory(user=user, status="verifying", embedding=None)
    decide = {"threshold": 0.75, "encoder": "resemblyzer", "encoder_version": "0.1.4", "embedding": [0.1] * 256}
    mismatch = {"outcome": "rejected", "code": "consent_speaker_mismatch", "message": "The voices do not match."}

    voice_profile_decide(
        profile_id=accepted.id, verdict=Verdict(outcome="accepted", code=None, message="", score=0.9, **decide)
    )
    voice_profile_decide(profile_id=mismatched.id, verdict=Verdict(**mismatch, score=0.2, **decide))
    voice_profile_reject(profile_id=unusable.id, code="audio_no_speech", message="No speech in the sample.")

    events = [(t, p["data"]["voice"]["id"], p["data"]["voice"]["status"]) for t, p in _events(issued.endpoint)]
    assert events == [
        ("voice.verified", str(accepted.id), "active"),
        ("voice.rejected", str(mismatched.id), "rejected"),
        ("voice.rejected", str(unusable.id), "rejected"),
    ]
    assert _events(issued.endpoint)[2][1]["data"]["voice"]["rejection"]["code"] == "audio_no_speech"


def test_a_change_that_rolls_back_leaves_no_delivery(user):
    issued = register(user, URL, events=ALL)
    job = QueuedJobFactory(user=user)

    def fail_then_roll_back():
        with transaction.atomic():
            synthesis_job_fail(job_id=job.id, code="engine_error", message="broke")
            raise RuntimeError("the surrounding transaction fails")

    with pytest.raises(RuntimeError):
        fail_then_roll_back()

    assert _events(issued.endpoint) == []
    job.refresh_from_db()
    assert job.status == "queued"
