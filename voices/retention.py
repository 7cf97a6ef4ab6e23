"""Retention, called by the lifecycle policy: each function returns the file its row let go of; the caller
deletes it after the commit, and only if no row points to it any more."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .models import (
    ConsentRecord,
    VoiceProfile,
)
from .selectors import consent_challenges_unused_expired, voice_profile_used_since
from .services import voice_sample_released

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Retention (called by the lifecycle policy). Each returns the file the row let go of; the caller deletes it
# after the commit, and only if no row points to it any more.
# ---------------------------------------------------------------------------------------------------------------
def voice_profile_expire(*, profile_id, unused_since) -> str | None:
    """Delete a profile created before `unused_since` and not used since; returns its sample's file name, or None
    if it is gone or was used meanwhile. The consent record (and its recording) stays, as audit evidence."""
    with transaction.atomic():
        profile = VoiceProfile.objects.select_for_update().filter(pk=profile_id, created_at__lt=unused_since).first()
        if profile is None or voice_profile_used_since(profile_id=profile.pk, since=unused_since):
            return None
        name, pk = profile.sample.name, profile.pk
        profile.delete()
        profile.pk = pk
        voice_sample_released(profile)
    logger.info("deleted voice %s, unused since %s", profile_id, unused_since)
    return name


def consent_evidence_release(*, record_id, recorded_before, now=None) -> str | None:
    """Let go of a consent recording past its retention: clear the field and record when. Only for a record made
    before `recorded_before` whose voice no longer exists; the row and the recording's SHA-256 stay."""
    now = now or timezone.now()
    with transaction.atomic():
        record = (
            # of=("self",): the voice_profile test is an outer join, and PostgreSQL locks no row on its null side.
            ConsentRecord.objects.select_for_update(of=("self",))
            .filter(
                pk=record_id,
                created_at__lt=recorded_before,
                voice_profile__isnull=True,
                consent_audio_deleted_at__isnull=True,
            )
            .exclude(consent_audio="")
            .first()
        )
        if record is None:
            return None
        name = record.consent_audio.name
        ConsentRecord.objects.filter(pk=record.pk).update(
            consent_audio="", consent_audio_deleted_at=now, updated_at=now
        )
    return name


def consent_challenges_purge(*, now=None) -> int:
    """Delete the expired challenges that were never used; returns how many."""
    deleted, _ = consent_challenges_unused_expired(now=now or timezone.now()).delete()
    return deleted
