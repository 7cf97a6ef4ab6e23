"""The storage ledger: the account's figure is opened once from what it already keeps, then moved only by entries
that the services storing and deleting files record in their own transactions, once per object and kind; it always
equals the sum of its entries, and the quota refusal reads it."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce

from billing.models import BillingAccount, StorageEntry, StorageKind
from billing.services import plan_assign
from billing.storage import storage_ledger_sum, storage_record, storage_used_for
from synthesis.models import SynthesisJob
from synthesis.transitions import synthesis_job_audio_expire, synthesis_job_claim, synthesis_job_succeed
from tests.factories import ActiveVoiceFactory, ConsentChallengeFactory, QueuedJobFactory, SucceededJobFactory
from voices import services as voice_services
from voices.models import VoiceProfile
from voices.retention import voice_profile_expire
from voices.services import Upload, voice_profile_create, voice_profile_delete

MB = 1024 * 1024


def _old_sum(user) -> int:
    """What billing/storage.py summed before the ledger, straight from the jobs and voice profiles."""
    audio = (
        SynthesisJob.objects.filter(user=user, cached=False)
        .exclude(audio="")
        .aggregate(total=Coalesce(Sum("audio_bytes"), 0))["total"]
    )
    samples = VoiceProfile.objects.filter(user=user).aggregate(total=Coalesce(Sum("sample_bytes"), 0))["total"]
    return audio + samples


def _entries(user) -> list[tuple[str, int, str]]:
    return list(StorageEntry.objects.filter(account__user=user).order_by("id").values_list("kind", "delta", "ref"))


def _figure(user) -> int | None:
    return BillingAccount.objects.get(user=user).storage_bytes


def _succeed(user, size: int) -> SynthesisJob:
    """A job through the worker's transitions: claimed, then its audio recorded."""
    queued = QueuedJobFactory(user=user)
    job = synthesis_job_claim(job_id=queued.pk)
    assert synthesis_job_succeed(
        job=job, audio_name=f"audio/{job.pk}.wav", audio_bytes=size, duration=1.0, engine_seconds=0.1
    )
    return job


def _assert_invariant(user) -> None:
    account = BillingAccount.objects.get(user=user)
    assert account.storage_bytes == storage_ledger_sum(account=account)


def test_an_account_from_before_the_ledger_opens_at_what_it_already_keeps(user, other_user):
    source = SucceededJobFactory(user=user, audio_bytes=5000)
    SucceededJobFactory(
        user=user, audio_bytes=5000, cached=True, source_job=source, audio=source.audio.name, stored=False
    )
    SucceededJobFactory(user=other_user, audio_bytes=7000)
    ActiveVoiceFactory(user=user, sample_bytes=3000)
    expired = SucceededJobFactory(user=user, audio_bytes=9000)
    SynthesisJob.objects.filter(pk=expired.pk).update(audio="", audio_expired_at=expired.created_at)

    assert storage_used_for(user=user) == _old_sum(user) == 5000 + 3000

    assert _figure(user) == 8000
    assert _entries(user) == [(StorageKind.OPEN, 8000, "")]
    assert storage_used_for(user=user) == 8000
    assert _entries(user) == [(StorageKind.OPEN, 8000, "")]  # opened once
    assert storage_used_for(user=other_user) == _old_sum(other_user) == 7000


def test_stored_audio_is_recorded_once_and_expired_audio_taken_off(user):
    assert storage_used_for(user=user) == 0

    job = _succeed(user, 5000)

    assert storage_used_for(user=user) == 5000
    ref = f"synthesis.job:{job.pk}"
    # A retried transition and a repeated record change nothing.
    assert not synthesis_job_succeed(
        job=job, audio_name=job.audio.name, audio_bytes=5000, duration=1.0, engine_seconds=0.1
    )
    assert storage_record(user=user, delta=5000, kind=StorageKind.STORE, ref=ref) is None
    assert storage_used_for(user=user) == 5000

    assert synthesis_job_audio_expire(job_id=job.pk) == job.audio.name
    assert synthesis_job_audio_expire(job_id=job.pk) is None

    assert storage_used_for(user=user) == 0
    assert _entries(user) == [
        (StorageKind.OPEN, 0, ""),
        (StorageKind.STORE, 5000, ref),
        (StorageKind.DELETE, -5000, ref),
    ]
    _assert_invariant(user)


def test_a_cache_hit_neither_adds_nor_takes_off(user):
    storage_used_for(user=user)
    source = _succeed(user, 4000)
    hit = SucceededJobFactory(
        user=user, cached=True, source_job=source, audio=source.audio.name, audio_bytes=4000, stored=False
    )

    assert storage_used_for(user=user) == 4000
    synthesis_job_audio_expire(job_id=hit.pk)
    assert storage_used_for(user=user) == 4000
    _assert_invariant(user)


def test_a_file_stored_before_the_figure_opens_is_counted_once(user):
    plan_assign(user=user, slug="pro")
    assert _figure(user) is None

    with transaction.atomic():
        job = _succeed(user, 6000)  # nothing recorded: the figure is not open
        assert _entries(user) == []
        # Opened inside the transaction that stored the file: the row counts it, and no entry counts it again.
        assert storage_used_for(user=user) == 6000

    assert storage_used_for(user=user) == 6000
    assert _entries(user) == [(StorageKind.OPEN, 6000, "")]
    synthesis_job_audio_expire(job_id=job.pk)
    assert storage_used_for(user=user) == 0
    _assert_invariant(user)


def test_a_delete_before_the_figure_opens_is_left_to_the_opening(user):
    job = SucceededJobFactory(user=user, audio_bytes=3000)

    synthesis_job_audio_expire(job_id=job.pk)

    assert _entries(user) == []
    assert storage_used_for(user=user) == 0


def test_entries_must_name_their_object_and_move_the_right_way(user):
    storage_used_for(user=user)

    with pytest.raises(ValueError, match="cannot move storage by -10"):
        storage_record(user=user, delta=-10, kind=StorageKind.STORE, ref="synthesis.job:x")
    with pytest.raises(ValueError, match="cannot move storage by \\+10"):
        storage_record(user=user, delta=10, kind=StorageKind.DELETE, ref="synthesis.job:x")
    with pytest.raises(ValueError, match="a store or delete of a named object"):
        storage_record(user=user, delta=10, kind=StorageKind.STORE, ref="")
    with pytest.raises(ValueError, match="a store or delete of a named object"):
        storage_record(user=user, delta=10, kind=StorageKind.OPEN, ref="synthesis.job:x")
    assert storage_record(user=user, delta=0, kind=StorageKind.STORE, ref="synthesis.job:x") is None
    assert _entries(user) == [(StorageKind.OPEN, 0, "")]


@pytest.fixture
def validated(monkeypatch):
    """The worker's check of the recordings, answered here (the e2e tests run the real one)."""
    report = {"ok": True, "consent": {"duration": 6.0}, "sample": {"duration": 9.0}}
    monkeypatch.setattr(voice_services, "recordings_validate", lambda **_: report)


def _create_voice(user) -> VoiceProfile:
    return voice_profile_create(
        user=user,
        name="Mine",
        sample=Upload("sample.wav", b"RIFF" + b"\0" * 2996),
        sample_transcript="Hello there.",
        consent_audio=Upload("consent.wav", b"RIFF" + b"\0" * 996),
        challenge_id=ConsentChallengeFactory(user=user, used_at=None).pk,
    )


def test_a_voice_sample_counts_from_creation_to_deletion_and_its_consent_recording_never(user, validated):
    plan_assign(user=user, slug="starter")
    storage_used_for(user=user)

    profile = _create_voice(user)

    assert storage_used_for(user=user) == 3000  # the sample; the consent recording is audit evidence
    voice_profile_delete(profile=profile)
    assert storage_used_for(user=user) == 0
    ref = f"voices.profile:{profile.pk}"
    assert _entries(user) == [
        (StorageKind.OPEN, 0, ""),
        (StorageKind.STORE, 3000, ref),
        (StorageKind.DELETE, -3000, ref),
    ]
    _assert_invariant(user)


def test_an_expired_voice_takes_its_sample_off(user, validated):
    plan_assign(user=user, slug="starter")
    storage_used_for(user=user)
    profile = _create_voice(user)
    VoiceProfile.objects.filter(pk=profile.pk).update(created_at=profile.created_at.replace(year=2020))

    assert voice_profile_expire(profile_id=profile.pk, unused_since=profile.created_at) == profile.sample.name

    assert storage_used_for(user=user) == 0
    _assert_invariant(user)


def test_the_quota_refusal_reads_the_ledger_and_is_unchanged(api, user):
    storage_used_for(user=user)  # opened at 0, then moved by what the worker stores
    _succeed(user, 100 * MB)  # Free: 100 MB

    response = api.post("/v1/tts", {"text": "One more, please.", "voice_id": "joe"}, format="json")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "storage_quota_exceeded"
    assert error["message"] == (
        "Your account stores 100.0 MB of audio and voice samples; the Free plan allows 100 MB. Audio older than 7 "
        "days is deleted automatically. To continue now, delete cloned voices you no longer need or upgrade your "
        "plan on the Billing page."
    )
    assert error["detail"] == {"used_bytes": 100 * MB, "quota_bytes": 100 * MB}


def test_a_voice_deleted_in_the_admin_goes_through_the_service(admin_client, user, validated):
    plan_assign(user=user, slug="starter")
    storage_used_for(user=user)
    profile = _create_voice(user)

    response = admin_client.post(f"/admin/voices/voiceprofile/{profile.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not VoiceProfile.objects.filter(pk=profile.pk).exists()
    assert storage_used_for(user=user) == 0
    assert admin_client.get("/admin/billing/storageentry/").status_code == 200
