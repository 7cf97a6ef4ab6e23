"""Writes that settle a cloned voice: the consent gate's verdict (from the worker), a rejection, and a reviewer's
verdict on a consent the gate could not decide alone.

The worker (voices.runner) hears the consent recording, scores the speakers and asks speech.consent; what it
decided arrives here as a plain `Verdict` (this module is imported by the web tier and never by speech/).
A verdict is recorded once: a profile that is no longer `verifying`, or whose consent already went to review,
is left alone, so a verification that runs twice changes nothing the second time.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .errors import ConsentRejectedInReview, ConsentReviewInvalid, SampleNotTranscribed
from .models import ConsentDecision, ConsentRecord, ReviewOutcome, TranscriptSource, VoiceProfile, VoiceStatus
from .services import voice_event_send, voice_webhook_emit
from .transcripts import transcript_warning_for

logger = logging.getLogger(__name__)

ACCEPTED, REJECTED, REVIEW = "accepted", "rejected", "review"


@dataclass(frozen=True)
class Verdict:
    """What the consent gate decided about one profile, and everything it rests on (for the consent record)."""

    outcome: str  # "accepted" | "rejected" | "review" (speech.consent)
    code: str | None  # None when accepted; the check that rejected it or sent it to review
    message: str  # for the customer
    score: float  # speaker similarity of consent and sample
    threshold: float  # the speaker threshold of the encoder that scored it
    encoder: str
    encoder_version: str
    embedding: list[float]  # the sample's speaker embedding (kept unless rejected)
    # Which recording a rejection is about: "consent" for every check of the gate.
    recording: str = "consent"
    transcript: str = ""  # heard in the consent recording
    phrase_score: float | None = None
    phrase_threshold: float | None = None
    statement_share: float | None = None
    statement_threshold: float | None = None
    review_margin: float | None = None
    asr_model_id: str = ""
    asr_model_revision: str = ""
    audit: dict | None = None  # speech.consent's Decision.audit(), plus the phrase's words as shown to the owner
    sample_heard: str = ""  # what speech recognition heard in the sample


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def voice_profile_decide(*, profile_id, verdict: Verdict) -> VoiceProfile | None:
    """Record the consent gate's verdict on a profile still verifying: `accepted` makes it active, `rejected`
    rejects it with the verdict's code, `review` keeps it verifying (with its embedding, so a reviewer's approval
    can activate it) and puts its consent in the review queue. Returns None when there was nothing to decide."""
    now = timezone.now()
    with transaction.atomic():
        profile = VoiceProfile.objects.select_for_update().select_related("consent").filter(pk=profile_id).first()
        if profile is None or profile.status != VoiceStatus.VERIFYING:
            return None
        consent = profile.consent
        if consent.decision == ConsentDecision.REVIEW:
            return None  # waiting for a person; a second verification must not decide it again
        consent.speaker_score = _finite(verdict.score)
        consent.threshold = verdict.threshold
        consent.encoder = verdict.encoder
        consent.encoder_version = verdict.encoder_version
        consent.transcript = verdict.transcript
        consent.audit = verdict.audit
        consent.phrase_score = verdict.phrase_score
        consent.phrase_threshold = verdict.phrase_threshold
        consent.statement_share = verdict.statement_share
        consent.statement_threshold = verdict.statement_threshold
        consent.review_margin = verdict.review_margin
        consent.asr_model_id = verdict.asr_model_id
        consent.asr_model_revision = verdict.asr_model_revision
        profile.encoder = verdict.encoder
        profile.encoder_version = verdict.encoder_version
        _sample_transcript_heard(profile, verdict.sample_heard)
        outcome, code = verdict.outcome, verdict.code
        if outcome != REJECTED and not profile.sample_transcript:
            # Nothing was heard in the sample and the owner typed nothing: Dia cannot speak without a transcript.
            outcome, code = REJECTED, SampleNotTranscribed.code
        consent.decision = {ACCEPTED: ConsentDecision.ACCEPTED, REVIEW: ConsentDecision.REVIEW}.get(
            outcome, ConsentDecision.REJECTED
        )
        consent.decision_reason = code or ""
        consent.decided_at = now
        consent.save()
        if code == SampleNotTranscribed.code:
            profile.status = VoiceStatus.REJECTED
            profile.rejection_code = code
            profile.rejection_message = SampleNotTranscribed.default_message
            profile.rejection_recording = "sample"
        elif outcome == REJECTED:
            profile.status = VoiceStatus.REJECTED
            profile.rejection_code = code or "consent_rejected"
            profile.rejection_message = verdict.message
            profile.rejection_recording = verdict.recording
        else:
            profile.embedding = verdict.embedding
            if verdict.outcome == ACCEPTED:
                profile.status = VoiceStatus.ACTIVE
                profile.verified_at = now
        profile.save()
        voice_event_send(profile)
        if profile.status != VoiceStatus.VERIFYING:
            voice_webhook_emit(profile)
    return profile


def _sample_transcript_heard(profile: VoiceProfile, heard: str) -> None:
    """Keep what was heard in the sample: as its transcript when the owner gave none, else to check theirs."""
    heard = heard.strip()
    profile.sample_transcript_heard = heard
    if not profile.sample_transcript:
        profile.sample_transcript = heard
        profile.sample_transcript_source = TranscriptSource.ASR
        profile.transcript_warning = None
    else:
        profile.transcript_warning = transcript_warning_for(transcript=profile.sample_transcript, heard=heard)


def voice_profile_reject(
    *,
    profile_id,
    code: str,
    message: str,
    include_active: bool = False,
    decision_reason: str = "",
    recording: str = "",
) -> VoiceProfile | None:
    """Reject a profile still verifying (or, with `include_active`, one already active: a reviewer's decision).
    Its consent record is marked rejected with `decision_reason` (default: the code). `recording` names the
    recording at fault ("consent" or "sample"), if one is."""
    allowed = (VoiceStatus.VERIFYING, VoiceStatus.ACTIVE) if include_active else (VoiceStatus.VERIFYING,)
    with transaction.atomic():
        profile = VoiceProfile.objects.select_for_update().filter(pk=profile_id).first()
        if profile is None or profile.status not in allowed:
            return None
        if profile.status == VoiceStatus.ACTIVE:
            profile.version += 1  # what was cached under this voice no longer answers for it
        profile.status = VoiceStatus.REJECTED
        profile.rejection_code = code
        profile.rejection_message = message
        profile.rejection_recording = recording
        profile.save()
        ConsentRecord.objects.filter(pk=profile.consent_id).update(
            decision=ConsentDecision.REJECTED, decision_reason=decision_reason or code, decided_at=timezone.now()
        )
        voice_event_send(profile)
        voice_webhook_emit(profile)
    return profile


def _voice_profile_approve(*, profile_id) -> VoiceProfile | None:
    """Activate a profile whose consent the gate sent to review, now that a person approved it."""
    with transaction.atomic():
        profile = VoiceProfile.objects.select_for_update().filter(pk=profile_id).first()
        if profile is None or profile.status != VoiceStatus.VERIFYING:
            return None
        if profile.embedding is None or not profile.sample_transcript:
            raise ConsentReviewInvalid("This voice has no verified sample to activate; the customer records again.")
        profile.status = VoiceStatus.ACTIVE
        profile.verified_at = timezone.now()
        profile.save()
        voice_event_send(profile)
        voice_webhook_emit(profile)
    return profile


def consent_review_decide(*, record_id, approve: bool, reviewer, note: str = "") -> ConsentRecord:
    """A person's verdict on a consent record from the review queue.

    Rejecting turns its voice profile (verifying or active) into `rejected` with `consent_rejected_in_review`, so it
    can no longer be used. Approving a consent the gate sent to review (decision `review`) accepts it and makes its
    voice active; approving any other records the verdict and changes nothing else: an active voice stays active,
    and a voice the gate rejected stays rejected (the customer records again).
    """
    with transaction.atomic():
        record = ConsentRecord.objects.select_for_update().filter(pk=record_id).first()
        if record is None:
            raise ConsentReviewInvalid("No such consent record.")
        if record.decision == ConsentDecision.PENDING:
            raise ConsentReviewInvalid("The consent check has not finished yet; review it once it has a decision.")
        profile_id = VoiceProfile.objects.filter(consent_id=record.pk).values_list("pk", flat=True).first()
        if approve and record.decision == ConsentDecision.REVIEW:
            # Accepted first, so the voice's event and webhook carry the new consent outcome. The code that sent
            # it to review stays in `audit`.
            record.decision = ConsentDecision.ACCEPTED
            record.decision_reason = ""
            record.decided_at = timezone.now()
            record.save(update_fields=["decision", "decision_reason", "decided_at", "updated_at"])
            if profile_id is not None:
                _voice_profile_approve(profile_id=profile_id)
        if not approve:
            if profile_id is not None:
                voice_profile_reject(
                    profile_id=profile_id,
                    code=ConsentRejectedInReview.code,
                    message=ConsentRejectedInReview.default_message,
                    include_active=True,
                    recording="consent",
                )
            # Also without a profile (deleted since); a rejection by the consent gate keeps its own reason.
            ConsentRecord.objects.filter(pk=record.pk).exclude(decision=ConsentDecision.REJECTED).update(
                decision=ConsentDecision.REJECTED,
                decision_reason=ConsentRejectedInReview.code,
                decided_at=timezone.now(),
            )
            record.refresh_from_db()
        record.review_outcome = ReviewOutcome.APPROVED if approve else ReviewOutcome.REJECTED
        record.reviewed_by = reviewer
        record.reviewed_at = timezone.now()
        record.review_note = note
        record.save(update_fields=["review_outcome", "reviewed_by", "reviewed_at", "review_note", "updated_at"])
    logger.info("consent %s %s in review by %s", record.pk, record.review_outcome, reviewer)
    return record
