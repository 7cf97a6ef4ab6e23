"""Reads for the voice catalog: built-in voices (configuration) and each account's cloned voices (database).

The web tier knows each built-in voice's engine, model and version by name without importing any engine.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from controls.limits import LimitName, limit_value
from controls.switches import SwitchName, engine_enabled, switch_is_on
from core.exceptions import NotFound

from .errors import VoiceNotFound
from .models import ConsentChallenge, ConsentDecision, ConsentRecord, VoiceProfile, VoiceStatus


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    engine: str
    engine_voice: str
    language: str
    kind: str
    version: int
    model_id: str
    model_revision: str
    sample_rate: int
    gender: str = ""
    description: str = ""
    status: str = "active"


def _builtin_voices() -> list[Voice]:
    return [
        Voice(
            id=voice_id,
            name=spec["name"],
            engine=spec["engine"],
            engine_voice=spec["engine_voice"],
            language=spec["language"],
            kind="builtin",
            version=int(spec["version"]),
            model_id=spec["model_id"],
            model_revision=spec["model_revision"],
            sample_rate=int(spec["sample_rate"]),
            gender=spec.get("gender", ""),
            description=spec.get("description", ""),
        )
        for voice_id, spec in settings.BUILTIN_VOICES.items()
    ]


def _cloned_voice(profile: VoiceProfile) -> Voice:
    engine = settings.CLONING_ENGINE
    return Voice(
        id=str(profile.id),
        name=profile.name,
        engine=engine or "none",
        engine_voice=str(profile.id),
        language="en",
        kind="cloned",
        version=profile.version,
        model_id=settings.CLONING_MODEL_ID if engine else "",
        model_revision=settings.CLONING_MODEL_REV if engine else "",
        sample_rate=44100,
        description=f"Your cloned voice ({profile.status}).",
        status=profile.status,
    )


def voice_profiles_for(*, user) -> QuerySet[VoiceProfile]:
    return VoiceProfile.objects.filter(user=user).select_related("consent").order_by("-created_at")


def voice_profile_get_for(*, user, profile_id) -> VoiceProfile:
    try:
        return voice_profiles_for(user=user).get(pk=profile_id)
    except (VoiceProfile.DoesNotExist, ValidationError, ValueError) as exc:
        raise VoiceNotFound() from exc


def voice_list_for(*, user) -> list[Voice]:
    return _builtin_voices() + [_cloned_voice(profile) for profile in voice_profiles_for(user=user)]


def voice_get_for(*, user, voice_id: str) -> Voice:
    """A voice the user may synthesize with now: a built-in one, or one of their own active cloned voices."""
    for voice in _builtin_voices():
        if voice.id == voice_id:
            return voice
    try:
        profile_id = uuid.UUID(str(voice_id))
    except ValueError as exc:
        raise VoiceNotFound(detail={"voice_id": voice_id}) from exc
    profile = voice_profiles_for(user=user).filter(pk=profile_id, status=VoiceStatus.ACTIVE).first()
    if profile is None:
        raise VoiceNotFound(detail={"voice_id": voice_id})
    return _cloned_voice(profile)


def cloned_voices_unavailable_reason(*, plan) -> str:
    """Why cloned voices cannot speak for an account on `plan` now, for people; empty when they can. The same
    conditions, in the same order, as synthesis' admission of a cloned-voice job: the operators' switches, the
    plan, then whether this deployment has a cloning engine at all (`CLONING_ENGINE`)."""
    if not switch_is_on(SwitchName.VOICE_CLONING):
        return "Voice cloning is switched off on this platform for now."
    if not plan.allows_cloning:
        return f"Your plan ({plan.name}) does not include voice cloning. Upgrade to Starter or above."
    if not settings.CLONING_ENGINE:
        return (
            "No cloning engine is deployed on this server, so cloned voices cannot speak here yet. "
            "You can still synthesize with the built-in voices."
        )
    if not engine_enabled(settings.CLONING_ENGINE):
        return "The cloning engine is switched off on this platform for now."
    return ""


def consent_challenge_get_for(*, user, challenge_id) -> ConsentChallenge:
    try:
        return ConsentChallenge.objects.get(user=user, pk=challenge_id)
    except (ConsentChallenge.DoesNotExist, ValidationError, ValueError) as exc:
        raise NotFound("Consent challenge not found.") from exc


# Use is read from `VoiceProfile.last_used_at`, which synthesis sets when it accepts a job with the voice
# (`voice_profile_mark_used`). Null means never used, and so does a profile from before the column was written
# (its earlier jobs are not looked up): it counts as unused since its creation.
def voice_profile_used_since(*, profile_id, since) -> bool:
    """Whether a synthesis job with the voice was submitted at or after `since`."""
    return VoiceProfile.objects.filter(pk=profile_id, last_used_at__gte=since).exists()


def voice_profiles_unused(*, since) -> QuerySet[VoiceProfile]:
    """Profiles created before `since` with no synthesis job submitted since then (the lifecycle policy's
    candidates; `voice_profile_expire` checks each again under a lock)."""
    return VoiceProfile.objects.filter(created_at__lt=since).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=since)
    )


def voice_samples_stored_bytes_for(*, user) -> int:
    """Bytes of voice samples the account keeps (consent recordings are audit evidence and do not count). Billing
    opens an account's storage figure from this (registered in `VoicesConfig.ready`); from then on the services
    record each change in billing's storage ledger."""
    return int(VoiceProfile.objects.filter(user=user).aggregate(total=Coalesce(Sum("sample_bytes"), 0))["total"])


def consent_challenges_unused_expired(*, now) -> QuerySet[ConsentChallenge]:
    """Challenges that expired without ever being used (a used one backs a consent record and stays)."""
    return ConsentChallenge.objects.filter(used_at__isnull=True, expires_at__lt=now, consent_record__isnull=True)


def consent_evidence_expired(*, recorded_before) -> QuerySet[ConsentRecord]:
    """Consent records made before `recorded_before` that still hold their recording and whose voice is gone."""
    return ConsentRecord.objects.filter(
        created_at__lt=recorded_before, voice_profile__isnull=True, consent_audio_deleted_at__isnull=True
    ).exclude(consent_audio="")


def _count_near(model, field: str, outer: str, window: timedelta):
    """How many `model` rows share the outer record's `outer` value in `field`, within `window` of its creation."""
    rows = (
        model.objects.filter(
            **{field: OuterRef(outer)},
            created_at__gte=OuterRef("created_at") - window,
            created_at__lte=OuterRef("created_at") + window,
        )
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(rows), Value(0))


def consent_records_with_review_signals(queryset: QuerySet[ConsentRecord] | None = None) -> QuerySet[ConsentRecord]:
    """Consent records annotated with what makes one worth a person's ear:

    - `gate_review`: the consent gate sent it to review (a score within the review margin below its threshold);
    - `near_threshold`: the speaker score is within CONSENT_REVIEW_MARGIN of the threshold it was judged by;
    - `user_attempts`, `ip_attempts`: consent challenges the same account / address asked for within 24 h;
    - `ip_profiles`: consent records (voice profiles) from the same address within 24 h.
    """
    margin = settings.CONSENT_REVIEW_MARGIN
    day = timedelta(hours=24)
    queryset = ConsentRecord.objects.all() if queryset is None else queryset
    return queryset.annotate(
        gate_review=Case(
            When(decision=ConsentDecision.REVIEW, then=Value(True)), default=Value(False), output_field=BooleanField()
        ),
        near_threshold=Case(
            When(
                speaker_score__isnull=False,
                threshold__isnull=False,
                speaker_score__gte=F("threshold") - margin,
                speaker_score__lte=F("threshold") + margin,
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        ),
        user_attempts=_count_near(ConsentChallenge, "user", "user", day),
        ip_attempts=_count_near(ConsentChallenge, "ip_address", "ip_address", day),
        ip_profiles=_count_near(ConsentRecord, "ip_address", "ip_address", day),
    )


def consent_review_queue(queryset: QuerySet[ConsentRecord] | None = None) -> QuerySet[ConsentRecord]:
    """Consent records no person has reviewed yet that show a review signal, oldest first."""
    repeats = settings.CONSENT_REVIEW_REPEATS
    return (
        consent_records_with_review_signals(queryset)
        .filter(reviewed_at__isnull=True)
        .filter(
            Q(gate_review=True)
            | Q(near_threshold=True)
            | Q(user_attempts__gte=repeats)
            | Q(ip_attempts__gte=repeats)
            | Q(ip_profiles__gt=limit_value(LimitName.ABUSE_PROFILES_PER_IP))
        )
        .order_by("created_at")
    )


def consent_review_reasons(record) -> list[str]:
    """Why an annotated record (from `consent_records_with_review_signals`) is in the queue, for people."""
    reasons = []
    if getattr(record, "gate_review", False):
        reasons.append(f"sent to review by the consent check: {record.decision_reason} ({_scores(record)})")
    if getattr(record, "near_threshold", False):
        reasons.append(f"score {record.speaker_score:.3f} near threshold {record.threshold:.3f}")
    if getattr(record, "user_attempts", 0) >= settings.CONSENT_REVIEW_REPEATS:
        reasons.append(f"{record.user_attempts} challenges from this account in 24 h")
    if getattr(record, "ip_attempts", 0) >= settings.CONSENT_REVIEW_REPEATS:
        reasons.append(f"{record.ip_attempts} challenges from {record.ip_address} in 24 h")
    if getattr(record, "ip_profiles", 0) > limit_value(LimitName.ABUSE_PROFILES_PER_IP):
        reasons.append(f"{record.ip_profiles} voices from {record.ip_address} in 24 h")
    return reasons


def _scores(record: ConsentRecord) -> str:
    parts = []
    for label, score, threshold in (
        ("statement", record.statement_share, record.statement_threshold),
        ("phrase", record.phrase_score, record.phrase_threshold),
        ("speaker", record.speaker_score, record.threshold),
    ):
        if score is not None and threshold is not None:
            parts.append(f"{label} {score:.2f}/{threshold:.2f}")
    return ", ".join(parts)
