"""What the owner is shown about the consent check of their voice (`GET /v1/voices/{id}/consent`, field `check`):
what was heard in the consent recording, the one-time phrase word by word with the missing words marked, each
score against its threshold, and which recording failed and why.

A read: built from the consent record (and its profile's rejection), which the consent gate (voices.verification)
wrote. Records decided before the gate heard recordings, or rejected before it ran (an unreadable file), have no
audit: their check carries the decision and null scores.
"""

from __future__ import annotations

from .errors import ConsentRejectedInReview
from .models import ConsentDecision, ConsentRecord, ReviewOutcome

APPROVED_IN_REVIEW = "A person listened to your consent recording and confirmed it; your voice can be used."
WAITING_FOR_REVIEW = (
    "We need to check your consent recording by hand before your voice can be used; we will let you know the "
    "result. Until then the voice stays in `verifying`."
)


def _profile_rejection(record: ConsentRecord) -> tuple[str, str]:
    profile = getattr(record, "voice_profile", None)
    if profile is None:
        return "", ""
    return profile.rejection_message, profile.rejection_recording


def _gate_decided(record: ConsentRecord, audit: dict) -> bool:
    """Whether the record's decision is the gate's own (not a reviewer's, nor a rejection outside the gate)."""
    return bool(audit) and (record.decision_reason or None) == audit.get("code") and not record.review_outcome


def _message(record: ConsentRecord, audit: dict) -> str:
    if record.decision == ConsentDecision.REVIEW:
        return WAITING_FOR_REVIEW
    if record.review_outcome == ReviewOutcome.APPROVED and audit.get("outcome") == "review":
        return APPROVED_IN_REVIEW
    if record.decision_reason == ConsentRejectedInReview.code:
        return ConsentRejectedInReview.default_message
    if _gate_decided(record, audit) or record.decision == ConsentDecision.ACCEPTED:
        return audit.get("message", "")
    return _profile_rejection(record)[0]


def _recording(record: ConsentRecord, audit: dict) -> str | None:
    if record.decision != ConsentDecision.REJECTED:
        return None
    if record.decision_reason == ConsentRejectedInReview.code:
        return "consent"
    if _gate_decided(record, audit):
        return audit.get("recording", "consent")
    return _profile_rejection(record)[1] or None


def consent_check_for(record: ConsentRecord) -> dict | None:
    """The check as the API shows it; None while it is pending."""
    if record.decision == ConsentDecision.PENDING:
        return None
    audit = record.audit or {}
    phrase = audit.get("phrase") or {}
    statement = audit.get("statement") or {}
    return {
        "outcome": record.decision,
        "code": None if record.decision == ConsentDecision.ACCEPTED else (record.decision_reason or None),
        "message": _message(record, audit),
        "recording": _recording(record, audit),
        "transcript": record.transcript,
        "phrase": {
            "text": record.nonce,
            "score": record.phrase_score,
            "threshold": record.phrase_threshold,
            "words": audit.get("phrase_words", []),
            "missing": phrase.get("missing", []),
        },
        "statement": {
            "share": record.statement_share,
            "threshold": record.statement_threshold,
            "missing": statement.get("missing", []),
        },
        "speaker": {"similarity": record.speaker_score, "threshold": record.threshold},
        "review_margin": record.review_margin,
        "asr": {"model_id": record.asr_model_id, "model_revision": record.asr_model_revision},
    }
