"""Writes for cloned voices: consent challenges, profile creation (upload), verification results, deletion.

Uploaded recordings are checked by a worker before anything is recorded (the web tier does not decode audio):
the files are stored under their final names, a worker validates them, and on any failure the files are deleted
and no row is written. Only then, in one transaction, the challenge is spent and the consent record and the
profile are created; the consent check (voices.verification) follows on a worker.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.errors import voice_slots_exhausted
from billing.models import StorageKind
from billing.selectors import plan_for
from billing.storage import storage_check, storage_record
from controls.admission import admit_cloning
from core.events import user_event_send
from core.exceptions import AudioInvalid, AudioTooLarge
from core.tasks import task_call, task_send
from webhooks.services import webhook_event_emit

from .consent import consent_activity_check_quietly, consent_challenge_usable_or_raise
from .errors import ConsentChallengeInvalid, ValidationUnavailable, VoiceTranscriptInvalid, VoiceUploadInvalid
from .models import (
    ConsentDecision,
    ConsentRecord,
    TranscriptSource,
    VoiceProfile,
    VoiceStatus,
    consent_audio_path,
    sample_audio_path,
)
from .serializers import voice_profile_payload
from .transcripts import transcript_warning_for

logger = logging.getLogger(__name__)

VALIDATE_TASK = "voices.validate_recordings"
VERIFY_TASK = "voices.verify_profile"
# `last_used_at` serves the lifecycle policy, which counts in days: to the minute is enough, and spares a write per job.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _check_size(upload: Upload, field: str) -> None:
    limit = settings.VOICE_UPLOAD_MAX_BYTES
    if len(upload.data) > limit:
        raise AudioTooLarge(
            f"The {field.replace('_', ' ')} is larger than {limit // (1024 * 1024)} MB.",
            detail={"field": field, "max_bytes": limit},
        )
    if not upload.data:
        raise AudioInvalid("The file is empty.", detail={"field": field})


def recordings_validate(*, consent_name: str, sample_name: str) -> dict:
    """Ask a worker to decode and check both stored recordings; returns its report or raises AudioInvalid."""
    report = task_call(
        VALIDATE_TASK,
        kwargs={"consent_name": consent_name, "sample_name": sample_name},
        timeout=settings.VOICE_VALIDATION_TIMEOUT,
        failure="upload validation did not complete",
        error=ValidationUnavailable,
        logger=logger,
    )
    if not report["ok"]:
        raise AudioInvalid(
            report["message"], code=report["code"], detail={"field": report["field"], **report["detail"]}
        )
    return report


def voice_profile_create(
    *,
    user,
    name: str,
    sample: Upload,
    sample_transcript: str = "",
    consent_audio: Upload,
    challenge_id,
    ip_address: str | None = None,
    user_agent: str = "",
) -> VoiceProfile:
    """Create a profile in `verifying` from a consent recording and a voice sample; nothing is kept on failure."""
    plan = plan_for(user=user)
    admit_cloning(plan_allows_cloning=plan.allows_cloning)
    if VoiceProfile.objects.filter(user=user).exclude(status=VoiceStatus.REJECTED).count() >= plan.cloned_voice_slots:
        raise voice_slots_exhausted(plan.cloned_voice_slots)
    storage_check(user=user, plan=plan)
    name = (name or "").strip()
    sample_transcript = (sample_transcript or "").strip()
    if not name:
        raise VoiceUploadInvalid("Give the voice a name.", detail={"field": "name"})
    _check_size(consent_audio, "consent_audio")
    _check_size(sample, "sample")
    consent_challenge_usable_or_raise(user=user, challenge_id=challenge_id, lock=False)  # fail fast, before any work

    record = ConsentRecord(id=uuid.uuid4())
    profile = VoiceProfile(id=uuid.uuid4())
    stored: list[str] = []
    try:
        consent_name = default_storage.save(
            consent_audio_path(record, consent_audio.name), ContentFile(consent_audio.data)
        )
        stored.append(consent_name)
        sample_name = default_storage.save(sample_audio_path(profile, sample.name), ContentFile(sample.data))
        stored.append(sample_name)
        report = recordings_validate(consent_name=consent_name, sample_name=sample_name)
        with transaction.atomic():
            challenge = consent_challenge_usable_or_raise(user=user, challenge_id=challenge_id, lock=True)
            challenge.used_at = timezone.now()
            challenge.save(update_fields=["used_at", "updated_at"])
            record.user = user
            record.user_email = user.email
            record.challenge = challenge
            record.statement = challenge.statement
            record.nonce = challenge.nonce
            record.consent_audio = consent_name
            record.consent_audio_sha256 = consent_audio.sha256
            record.consent_duration_seconds = report["consent"]["duration"]
            record.ip_address = ip_address
            record.user_agent = user_agent[:1000]
            record.save()
            profile.user = user
            profile.consent = record
            profile.name = name[:100]
            profile.sample = sample_name
            profile.sample_sha256 = sample.sha256
            profile.sample_bytes = len(sample.data)
            # Left blank, the worker transcribes the sample before the voice can become active.
            profile.sample_transcript = sample_transcript
            profile.sample_transcript_source = TranscriptSource.OWNER if sample_transcript else TranscriptSource.ASR
            profile.sample_duration_seconds = report["sample"]["duration"]
            profile.save()
            storage_record(user=user, delta=profile.sample_bytes, kind=StorageKind.STORE, ref=_storage_ref(profile.pk))
            transaction.on_commit(lambda: _enqueue_verification(profile.id))
            if ip_address:
                transaction.on_commit(lambda: consent_activity_check_quietly(ip_address))
            voice_event_send(profile)
    except IntegrityError as exc:
        # Another request spent the same challenge between our check and our insert.
        _delete_files(stored)
        raise ConsentChallengeInvalid(detail={"reason": "used"}) from exc
    except BaseException:
        _delete_files(stored)
        raise
    return profile


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("could not delete %s", name)


def _enqueue_verification(profile_id: uuid.UUID) -> None:
    task_send(
        VERIFY_TASK,
        args=[str(profile_id)],
        failure=f"could not enqueue verification of voice {profile_id}",
        logger=logger,
    )


def voice_verifications_sweep(*, older_than_seconds: int = 300) -> int:
    """Send verification again for profiles still `verifying` after a while (a lost message, a worker that
    died). Verification is idempotent, so a duplicate does nothing. Returns how many were sent."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    # A profile whose consent went to review stays verifying until a person decides: nothing to send.
    stuck = list(
        VoiceProfile.objects.filter(status=VoiceStatus.VERIFYING, updated_at__lt=cutoff)
        .exclude(consent__decision=ConsentDecision.REVIEW)
        .values_list("pk", flat=True)
    )
    for profile_id in stuck:
        VoiceProfile.objects.filter(pk=profile_id, status=VoiceStatus.VERIFYING).update(updated_at=timezone.now())
        _enqueue_verification(profile_id)
    return len(stuck)


def voice_event_send(profile: VoiceProfile) -> None:
    user_event_send(profile.user_id, "voice.updated", "voice", voice_profile_payload(profile))


def voice_webhook_emit(profile: VoiceProfile) -> None:
    """Store `voice.verified` / `voice.rejected` for the owner's webhook endpoints. Call in the transaction that
    decided the profile, right after the change; the deliveries go out once it commits."""
    event_type = "voice.verified" if profile.status == VoiceStatus.ACTIVE else "voice.rejected"
    webhook_event_emit(user_id=profile.user_id, event_type=event_type, data={"voice": voice_profile_payload(profile)})


def _storage_ref(profile_id) -> str:
    """The profile's sample in billing's storage ledger (one store and one delete entry per profile)."""
    return f"voices.profile:{profile_id}"


def voice_sample_released(profile: VoiceProfile) -> None:
    """Record in the owner's storage that the deleted profile's sample is gone. In the transaction of the delete."""
    storage_record(
        user=profile.user, delta=-(profile.sample_bytes or 0), kind=StorageKind.DELETE, ref=_storage_ref(profile.pk)
    )


def voice_profile_delete(*, profile: VoiceProfile) -> None:
    """Delete the profile and its sample; the consent record and its audio stay as audit evidence."""
    sample_name, pk = profile.sample.name, profile.pk
    with transaction.atomic():
        profile.delete()
        profile.pk = pk  # delete() clears it; the storage entry names the profile
        voice_sample_released(profile)
        transaction.on_commit(lambda: _delete_files([sample_name]))


def voice_profile_mark_used(*, profile_id, now=None) -> None:
    """Record that a job was submitted with the voice (`last_used_at`, read by the lifecycle policy). One
    conditional UPDATE, written at most once a minute. Call in the transaction that creates the job, before the
    account is locked: voice deletions lock the profile, then the account."""
    now = now or timezone.now()
    VoiceProfile.objects.filter(pk=profile_id).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)


def voice_profile_transcript_set(*, profile: VoiceProfile, transcript: str) -> VoiceProfile:
    """The owner's correction of the sample's transcript. Dia speaks it before every cloned sentence, so the voice
    changes: `version` goes up (the synthesis cache and the worker's prompt cache key on it). The warning is
    checked again against what speech recognition heard."""
    transcript = (transcript or "").strip()
    if not transcript:
        raise VoiceTranscriptInvalid(detail={"field": "sample_transcript"})
    with transaction.atomic():
        locked = VoiceProfile.objects.select_for_update().select_related("consent").get(pk=profile.pk)
        if locked.sample_transcript == transcript and locked.sample_transcript_source == TranscriptSource.OWNER:
            return locked
        locked.sample_transcript = transcript
        locked.sample_transcript_source = TranscriptSource.OWNER
        locked.transcript_warning = transcript_warning_for(transcript=transcript, heard=locked.sample_transcript_heard)
        locked.version += 1
        locked.save()
        voice_event_send(locked)
    return locked
