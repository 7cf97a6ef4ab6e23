"""`VoiceProfile.last_used_at`: set when a job with the voice is submitted (one conditional UPDATE, at most once a
minute), and what the lifecycle policy reads to find unused voices; null means never used, so a profile from before
the column was written counts as unused since its creation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.services import plan_assign
from ops.lifecycle import last_use_backfill
from synthesis.models import SynthesisJob
from synthesis.services import synthesis_job_create
from tests.factories import ActiveVoiceFactory, QueuedJobFactory
from voices.models import VoiceProfile
from voices.retention import voice_profile_expire
from voices.selectors import voice_profile_used_since, voice_profiles_unused
from voices.services import voice_profile_mark_used

DAY = timedelta(days=1)


@pytest.fixture
def cloning(settings, user):
    settings.CLONING_ENGINE = "dia"
    plan_assign(user=user, slug="pro")


def test_submitting_a_job_with_a_cloned_voice_marks_it_used(cloning, user):
    voice = ActiveVoiceFactory(user=user)
    other = ActiveVoiceFactory(user=user)
    assert voice.last_used_at is None

    job = synthesis_job_create(user=user, text="In my own voice.", voice_id=str(voice.pk))

    voice.refresh_from_db()
    assert voice.last_used_at == job.queued_at
    assert voice_profile_used_since(profile_id=voice.pk, since=job.queued_at)
    assert not voice_profile_used_since(profile_id=voice.pk, since=job.queued_at + timedelta(seconds=1))
    assert VoiceProfile.objects.get(pk=other.pk).last_used_at is None


def test_a_builtin_voice_job_touches_no_profile(cloning, user):
    voice = ActiveVoiceFactory(user=user)

    synthesis_job_create(user=user, text="In Joe's voice.", voice_id="joe")

    assert VoiceProfile.objects.get(pk=voice.pk).last_used_at is None


def test_use_is_written_at_most_once_a_minute(user):
    voice = ActiveVoiceFactory(user=user)
    first = timezone.now()

    voice_profile_mark_used(profile_id=voice.pk, now=first)
    voice_profile_mark_used(profile_id=voice.pk, now=first + timedelta(seconds=30))
    assert VoiceProfile.objects.get(pk=voice.pk).last_used_at == first

    voice_profile_mark_used(profile_id=voice.pk, now=first + timedelta(seconds=61))
    assert VoiceProfile.objects.get(pk=voice.pk).last_used_at == first + timedelta(seconds=61)


def test_unused_means_created_before_and_not_used_since(user):
    now = timezone.now()
    since = now - 180 * DAY

    def voice(*, age, used_ago=None):
        profile = ActiveVoiceFactory(user=user)
        VoiceProfile.objects.filter(pk=profile.pk).update(
            created_at=now - age, last_used_at=None if used_ago is None else now - used_ago
        )
        return profile.pk

    never_used = voice(age=200 * DAY)  # also: a profile from before the column was written
    used_long_ago = voice(age=400 * DAY, used_ago=190 * DAY)
    used_recently = voice(age=400 * DAY, used_ago=10 * DAY)
    young = voice(age=10 * DAY)

    assert set(voice_profiles_unused(since=since).values_list("pk", flat=True)) == {never_used, used_long_ago}
    assert not voice_profile_used_since(profile_id=never_used, since=since)
    assert voice_profile_used_since(profile_id=used_recently, since=since)
    # The lifecycle's delete checks again under the lock.
    assert voice_profile_expire(profile_id=used_recently, unused_since=since) is None
    assert voice_profile_expire(profile_id=young, unused_since=since) is None
    assert voice_profile_expire(profile_id=never_used, unused_since=since) is not None
    assert set(VoiceProfile.objects.values_list("pk", flat=True)) == {used_long_ago, used_recently, young}


def test_an_upgrade_deletes_no_voice_that_jobs_used_before_last_used_at_existed(user):
    # given: profiles from before the column was written (null), one with a recent job, one with none
    now = timezone.now()
    since = now - 180 * DAY
    in_use, idle = ActiveVoiceFactory(user=user), ActiveVoiceFactory(user=user)
    job = QueuedJobFactory(user=user, voice_id=str(in_use.pk), voice_kind="cloned", engine="dia")
    SynthesisJob.objects.filter(pk=job.pk).update(created_at=now - 5 * DAY)
    VoiceProfile.objects.filter(pk__in=[in_use.pk, idle.pk]).update(created_at=now - 400 * DAY, last_used_at=None)

    # when: the lifecycle policy runs for the first time after the upgrade
    last_use_backfill(older_than=since)

    # then: the voice in use is kept, the idle one is a candidate
    assert set(voice_profiles_unused(since=since).values_list("pk", flat=True)) == {idle.pk}
    assert VoiceProfile.objects.get(pk=in_use.pk).last_used_at == now - 5 * DAY
