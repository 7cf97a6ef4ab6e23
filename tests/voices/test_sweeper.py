"""A profile stuck in `verifying` (its message lost) is verified again by the sweeper, and only such profiles."""

from datetime import timedelta

from django.utils import timezone

from tests.factories import ActiveVoiceFactory
from voices.models import VoiceProfile
from voices.services import voice_verifications_sweep


def test_stuck_verifications_are_sent_again(db):
    stuck = ActiveVoiceFactory(status="verifying", embedding=None)
    fresh = ActiveVoiceFactory(status="verifying", embedding=None)
    done = ActiveVoiceFactory()
    long_ago = timezone.now() - timedelta(minutes=30)
    VoiceProfile.objects.filter(pk__in=[stuck.pk, done.pk]).update(updated_at=long_ago)

    assert voice_verifications_sweep() == 1

    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.updated_at > long_ago  # marked as re-sent, so the next sweep waits again
    assert voice_verifications_sweep() == 0
    assert fresh.status == "verifying"
