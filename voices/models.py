"""Cloned voices and the consent that must stand behind each one.

A `VoiceProfile` cannot exist without a `ConsentRecord` (non-null one-to-one, protected), and a consent record
cannot be made twice from one `ConsentChallenge` (one-to-one): replaying a challenge fails in the database even
under a race. Consent records outlive the profiles they allowed, for audit.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import TimestampedModel


class ConsentChallenge(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_challenges")
    statement = models.TextField()
    nonce = models.CharField(max_length=200, help_text="The one-time phrase the statement ends with.")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True, help_text="The client that asked for it.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="challenge_user_created"),
            models.Index(fields=["ip_address", "-created_at"], name="challenge_ip_created"),
        ]

    def __str__(self) -> str:
        return f"challenge {self.id} for {self.user_id}"


class ConsentDecision(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    # A score within the review margin below its threshold: a person decides (the profile stays `verifying`).
    REVIEW = "review", "Review"


def consent_audio_path(instance: "ConsentRecord", filename: str) -> str:
    return f"consent/{instance.id}{_extension(filename)}"


def sample_audio_path(instance: "VoiceProfile", filename: str) -> str:
    return f"voices/{instance.id}{_extension(filename)}"


def _extension(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f".{suffix}" if suffix.isalnum() and len(suffix) <= 5 else ".bin"


class ReviewOutcome(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ConsentRecord(TimestampedModel):
    """Evidence that the account holder agreed, in their own voice, to the voice being cloned."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Kept when the account goes: the record is audit evidence. The email is copied for the same reason.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="consent_records"
    )
    user_email = models.EmailField()
    challenge = models.OneToOneField(ConsentChallenge, on_delete=models.PROTECT, related_name="consent_record")
    statement = models.TextField()
    nonce = models.CharField(max_length=200)
    consent_audio = models.FileField(upload_to=consent_audio_path, max_length=255)
    consent_audio_sha256 = models.CharField(max_length=64)
    # The recording is kept for CONSENT_EVIDENCE_RETENTION_DAYS (and while its voice exists); then the lifecycle
    # policy deletes the file and records when here. The row, with the recording's SHA-256, stays.
    consent_audio_deleted_at = models.DateTimeField(null=True, blank=True)
    consent_duration_seconds = models.FloatField()
    speaker_score = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    encoder = models.CharField(max_length=50, blank=True)
    encoder_version = models.CharField(max_length=100, blank=True)
    # What the recogniser heard in the consent recording and how the consent gate scored it (speech.consent):
    # `audit` holds the whole decision (word timings, matches, messages) as `Decision.audit()` wrote it.
    transcript = models.TextField(blank=True)
    audit = models.JSONField(null=True, blank=True)
    phrase_score = models.FloatField(null=True, blank=True)
    phrase_threshold = models.FloatField(null=True, blank=True)
    statement_share = models.FloatField(null=True, blank=True)
    statement_threshold = models.FloatField(null=True, blank=True)
    review_margin = models.FloatField(null=True, blank=True)
    asr_model_id = models.CharField(max_length=100, blank=True)
    asr_model_revision = models.CharField(max_length=200, blank=True)
    decision = models.CharField(max_length=16, choices=ConsentDecision.choices, default=ConsentDecision.PENDING)
    decision_reason = models.CharField(max_length=64, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_outcome = models.CharField(max_length=16, choices=ReviewOutcome.choices, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="consent_user_created"),
            models.Index(fields=["ip_address", "-created_at"], name="consent_ip_created"),
        ]

    def __str__(self) -> str:
        return f"consent {self.id} ({self.decision})"


class ConsentReview(ConsentRecord):
    """The consent review queue in the admin: consent records a person should listen to (see
    `selectors.consent_review_queue`)."""

    class Meta:
        proxy = True
        verbose_name = "consent record to review"
        verbose_name_plural = "consent review queue"


class VoiceStatus(models.TextChoices):
    VERIFYING = "verifying", "Verifying"
    ACTIVE = "active", "Active"
    REJECTED = "rejected", "Rejected"


class TranscriptSource(models.TextChoices):
    OWNER = "owner", "Typed by the owner"
    ASR = "asr", "Heard by speech recognition"


class VoiceProfile(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="voice_profiles")
    consent = models.OneToOneField(ConsentRecord, on_delete=models.PROTECT, related_name="voice_profile")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=VoiceStatus.choices, default=VoiceStatus.VERIFYING)
    rejection_code = models.CharField(max_length=64, blank=True)
    rejection_message = models.TextField(blank=True)
    # Which recording the rejection is about ("consent" or "sample"); blank when neither (a reviewer's verdict).
    rejection_recording = models.CharField(max_length=16, blank=True)
    sample = models.FileField(upload_to=sample_audio_path, max_length=255)
    sample_sha256 = models.CharField(max_length=64)
    sample_bytes = models.PositiveBigIntegerField(null=True, blank=True, help_text="Counts towards storage quota.")
    # Dia speaks the sample's transcript before the new text. Left blank at upload, a worker transcribes the sample
    # before the voice can become active (see the constraint).
    sample_transcript = models.TextField(blank=True)
    sample_transcript_source = models.CharField(
        max_length=8, choices=TranscriptSource.choices, default=TranscriptSource.OWNER
    )
    # What speech recognition heard in the sample (blank until verified), and the warning shown to the owner when
    # the transcript disagrees strongly with it (voices.transcripts).
    sample_transcript_heard = models.TextField(blank=True)
    transcript_warning = models.JSONField(null=True, blank=True)
    sample_duration_seconds = models.FloatField()
    embedding = models.JSONField(null=True, blank=True)
    encoder = models.CharField(max_length=50, blank=True)
    encoder_version = models.CharField(max_length=100, blank=True)
    # Part of the synthesis cache key: bumped whenever what the voice sounds like may change.
    version = models.PositiveIntegerField(default=1)
    verified_at = models.DateTimeField(null=True, blank=True)
    # When a job was last submitted with the voice (to the minute; the lifecycle policy reads it). Null: never, or
    # not since the column began to be written (such a profile counts as unused since its creation).
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="voice_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="active") | Q(embedding__isnull=False), name="voice_active_has_embedding"
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_code=""), name="voice_rejected_has_code"
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | ~Q(sample_transcript=""), name="voice_active_has_transcript"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"
